// MessageChannel and MessagePort (HTML), as Workers has them: two entangled
// ports inside one isolate. A message is a structured clone of what was
// posted, delivered as a MessageEvent in a later task (a timer of the
// request that posted it) once the receiving port has started: by start(),
// or by setting onmessage. Nothing is transferred (a transfer list is a
// DataCloneError, as in structuredClone); ports cannot be sent.
//
// Made on first use in an isolate (lazyGlobal), as most never use them.

let messageClasses = null;
function messageChannelClasses() {
  if (messageClasses !== null) return messageClasses;
  let messagePortEntangle; // (port, port) -> void

  class MessagePort extends EventTarget {
    #other = null; // the entangled port, null once either side closed
    #started = false;
    #queue = listNew(); // messages not yet delivered, from #next on
    #next = 0;
    #timer = 0; // the delivery timer, 0 for none
    #handlers = eventHandlerAttributes(this); // onmessage, onmessageerror

    constructor(token = undefined) {
      if (token !== INTERNAL) throw new TypeError('Illegal constructor');
      super();
    }

    postMessage(message, options = undefined) {
      requireArgs(arguments.length, 1, 'MessagePort.postMessage');
      if (ArrayIsArray(options) ? options.length > 0 : isObject(options) && options.transfer !== undefined) {
        throw new DOMException('MessagePort.postMessage: transferring objects is not supported', 'DataCloneError');
      }
      const data = cloneValue(message, new Map());
      const target = this.#other;
      if (target !== null) target.#enqueue(data);
    }

    start() {
      void this.#other; // brand check
      if (this.#started) return;
      this.#started = true;
      this.#schedule();
    }

    close() {
      const other = this.#other;
      if (other !== null) other.#other = null;
      this.#other = null;
    }

    get onmessage() {
      return this.#handlers.get('message');
    }

    // Setting it starts the port, as HTML says.
    set onmessage(handler) {
      this.#handlers.set('message', handler);
      this.start();
    }

    get onmessageerror() {
      return this.#handlers.get('messageerror');
    }

    set onmessageerror(handler) {
      this.#handlers.set('messageerror', handler);
    }

    #enqueue(data) {
      listPush(this.#queue, data);
      this.#schedule();
    }

    // One timer per port at a time delivers everything queued by then. A
    // timer belongs to a request and ends with it, so one that request can no
    // longer fire is replaced. At the top level (no request, so no timer) the
    // messages wait for the next post or start() inside a request.
    #schedule() {
      if (!this.#started || this.#next >= this.#queue.length) return;
      if (this.#timer !== 0 && native.timerPending(this.#timer)) return;
      try {
        this.#timer = native.setTimer(() => this.#deliver(), 0, false);
      } catch {
        this.#timer = 0;
      }
    }

    #deliver() {
      this.#timer = 0;
      const end = this.#queue.length;
      while (this.#next < end) {
        const data = this.#queue[this.#next];
        this.#queue[this.#next] = undefined;
        this.#next++;
        try {
          eventTargetDispatch(this, new (moreEvents().MessageEvent)('message', { __proto__: null, data }));
        } catch (error) {
          reportUncaught(error);
        }
      }
      if (this.#next === this.#queue.length) {
        this.#queue = listNew();
        this.#next = 0;
      } else {
        this.#schedule();
      }
    }

    static {
      messagePortEntangle = (a, b) => {
        a.#other = b;
        b.#other = a;
      };
    }
  }
  setToStringTag(MessagePort.prototype, 'MessagePort');

  class MessageChannel {
    #port1;
    #port2;

    constructor() {
      this.#port1 = new MessagePort(INTERNAL);
      this.#port2 = new MessagePort(INTERNAL);
      messagePortEntangle(this.#port1, this.#port2);
    }

    get port1() {
      return this.#port1;
    }

    get port2() {
      return this.#port2;
    }
  }
  setToStringTag(MessageChannel.prototype, 'MessageChannel');
  messageClasses = { __proto__: null, MessageChannel, MessagePort };
  return messageClasses;
}
lazyGlobal('MessageChannel', () => messageChannelClasses().MessageChannel);
lazyGlobal('MessagePort', () => messageChannelClasses().MessagePort);
