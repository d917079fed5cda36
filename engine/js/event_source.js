// EventSource (HTML server-sent events), as Workers has it: new
// EventSource(url, { withCredentials, fetcher }) reads a text/event-stream
// over fetch() (or the fetcher binding's fetch), fires open, message (and
// named) events and error, and reconnects after the stream ends as long as
// the request that made it lives, after `retry` ms (1 s by default); a
// response that is not 200 with text/event-stream fails it for good.
// EventSource.from(readableStream) reads one stream of events, and never
// reconnects. Made on first use in an isolate (lazyGlobal).

let eventSourceClass = null;
const BodyPrototypeGetBody = ObjectGetOwnPropertyDescriptor(Body.prototype, 'body').get;
const EventSourceJoin = uncurryThis(Array.prototype.join);
function makeEventSource() {
  if (eventSourceClass !== null) return eventSourceClass;
  const ES_CONNECTING = 0;
  const ES_OPEN = 1;
  const ES_CLOSED = 2;
  const ES_DEFAULT_RETRY_MS = 1000;
  const ES_EVENT_STREAM = /^\s*text\/event-stream\s*(?:;|$)/i;
  const ES_DIGITS = /^[0-9]+$/;

  class EventSource extends EventTarget {
    #url = '';
    #origin = 'null';
    #withCredentials = false;
    #fetcher = null;
    #readyState = ES_CONNECTING;
    #lastEventId = '';
    #retry = ES_DEFAULT_RETRY_MS;
    #stream = null; // the stream being read
    #handlers = eventHandlerAttributes(this); // its on<type> attributes
    #reconnects = true;

    constructor(url, init = undefined) {
      requireArgs(arguments.length, 1, 'EventSource');
      super();
      if (url === INTERNAL) { // EventSource.from(stream)
        this.#reconnects = false;
        this.#readyState = ES_OPEN;
        this.#read(init, true);
        return;
      }
      const { withCredentials = false, fetcher = undefined } = toDictionary(init, 'EventSource');
      const input = toUSVString(url);
      const record = urlParse(input);
      if (record === null) throw new DOMException(`EventSource: invalid URL ${input}`, 'SyntaxError');
      this.#url = urlSerialize(record);
      this.#origin = urlOrigin(record);
      this.#withCredentials = Boolean(withCredentials);
      if (fetcher !== undefined && fetcher !== null) {
        if (!isObject(fetcher) || typeof fetcher.fetch !== 'function') {
          throw new TypeError('EventSource: init.fetcher must have a fetch() method');
        }
        this.#fetcher = fetcher;
      }
      this.#connect();
    }

    static from(stream) {
      requireArgs(arguments.length, 1, 'EventSource.from');
      if (!readableStreamIs(stream)) throw new TypeError('EventSource.from: the argument must be a ReadableStream');
      if (readableStreamIsLocked(stream)) throw new TypeError('EventSource.from: the stream is locked');
      return new EventSource(INTERNAL, stream);
    }

    get url() {
      void this.#url; // brand check
      return this.#url;
    }

    get withCredentials() {
      return this.#withCredentials;
    }

    get readyState() {
      return this.#readyState;
    }

    close() {
      if (this.#readyState === ES_CLOSED) return;
      this.#readyState = ES_CLOSED;
      const stream = this.#stream;
      this.#stream = null;
      if (stream !== null) streamMarkHandled(readableStreamCancel(stream));
    }

    get onopen() { return this.#handlers.get('open'); }
    set onopen(value) { this.#handlers.set('open', value); }
    get onmessage() { return this.#handlers.get('message'); }
    set onmessage(value) { this.#handlers.set('message', value); }
    get onerror() { return this.#handlers.get('error'); }
    set onerror(value) { this.#handlers.set('error', value); }

    static get CONNECTING() { return ES_CONNECTING; }
    get CONNECTING() { return ES_CONNECTING; }
    static get OPEN() { return ES_OPEN; }
    get OPEN() { return ES_OPEN; }
    static get CLOSED() { return ES_CLOSED; }
    get CLOSED() { return ES_CLOSED; }

    #fire(event) {
      try {
        eventTargetDispatch(this, event);
      } catch (error) {
        reportUncaught(error);
      }
    }

    async #connect() {
      // A record without a prototype: no iterator or getter of a tenant's
      // is called on the way into fetch().
      const headers = this.#lastEventId === ''
        ? { __proto__: null, accept: 'text/event-stream', 'cache-control': 'no-store' }
        : { __proto__: null, accept: 'text/event-stream', 'cache-control': 'no-store', 'last-event-id': this.#lastEventId };
      let response;
      try {
        const init = { __proto__: null, headers, credentials: this.#withCredentials ? 'include' : 'same-origin' };
        response = this.#fetcher !== null ? await this.#fetcher.fetch(this.#url, init)
          : await streamInternal(fetch(this.#url, init));
      } catch {
        this.#reconnectLater();
        return;
      }
      if (!responseIs(response)) {
        this.#fail();
        return;
      }
      // What the body getter gives: a fetcher's Response made from a string
      // holds bytes until asked, and has a stream then.
      const stream = ReflectApply(BodyPrototypeGetBody, response, []);
      if (this.#readyState === ES_CLOSED) {
        if (stream !== null) streamMarkHandled(readableStreamCancel(stream));
        return;
      }
      const { status, headers: responseHeaders } = responseParts(response);
      const type = headersCombined(headersSorted(responseHeaders), 'content-type');
      if (status !== 200 || type === null || RegExpPrototypeExec(ES_EVENT_STREAM, type) === null || stream === null) {
        if (stream !== null) streamMarkHandled(readableStreamCancel(stream));
        this.#fail();
        return;
      }
      this.#readyState = ES_OPEN;
      this.#fire(new Event('open'));
      await this.#read(stream, false);
    }

    // Fails the connection for good: not an event stream.
    #fail() {
      if (this.#readyState === ES_CLOSED) return;
      this.#readyState = ES_CLOSED;
      this.#fire(new Event('error'));
    }

    // The stream ended or the network failed: again after `retry` ms, while
    // the request that is running lives (a timer of its own); else closed.
    #reconnectLater() {
      if (this.#readyState === ES_CLOSED) return;
      if (!this.#reconnects) {
        this.#readyState = ES_CLOSED;
        this.#fire(new Event('error'));
        return;
      }
      this.#readyState = ES_CONNECTING;
      this.#fire(new Event('error'));
      if (this.#readyState !== ES_CONNECTING) return; // an error listener closed it
      try {
        native.setTimer(() => {
          if (this.#readyState === ES_CONNECTING) this.#connect();
        }, this.#retry, false);
      } catch {
        this.#readyState = ES_CLOSED;
      }
    }

    // The event stream interpretation: lines end at CRLF, LF or CR; a blank
    // line dispatches the event gathered so far.
    async #read(stream, fromStream) {
      let reader;
      try {
        reader = readableStreamGetReader(stream);
      } catch {
        this.#fail();
        return;
      }
      this.#stream = stream;
      if (fromStream) queueMicrotask(() => this.#fire(new Event('open')));
      const decoder = new TextDecoder();
      // The text after the last line end, in the pieces it came in: each
      // chunk is scanned once (a line that went on for megabytes in small
      // pieces was scanned again from its start at every one).
      let pending = listNew();
      let skipLF = false; // the previous chunk ended with CR
      let data = '';
      let type = '';
      const line = (text) => {
        if (text === '') {
          if (data !== '') {
            const event = new (moreEvents().MessageEvent)(type === '' ? 'message' : type, {
              __proto__: null,
              data: StringPrototypeSlice(data, 0, -1), origin: this.#origin, lastEventId: this.#lastEventId,
            });
            this.#fire(event);
          }
          data = '';
          type = '';
          return;
        }
        if (StringPrototypeCharCodeAt(text, 0) === 0x3A) return; // a comment
        const colon = StringPrototypeIndexOf(text, ':');
        const field = colon < 0 ? text : StringPrototypeSlice(text, 0, colon);
        let value = colon < 0 ? '' : StringPrototypeSlice(text, colon + 1);
        if (value !== '' && StringPrototypeCharCodeAt(value, 0) === 0x20) value = StringPrototypeSlice(value, 1);
        if (field === 'event') type = value;
        else if (field === 'data') data += `${value}\n`;
        else if (field === 'id') {
          if (StringPrototypeIndexOf(value, '\0') < 0) this.#lastEventId = value;
        } else if (field === 'retry') {
          if (RegExpPrototypeExec(ES_DIGITS, value) !== null) this.#retry = NumberParseInt(value, 10);
        }
      };
      try {
        for (;;) {
          const { value, done } = await readableStreamReaderRead(reader);
          if (this.#readyState === ES_CLOSED) return;
          if (done) break;
          const text = ReflectApply(TextDecoderPrototypeDecode, decoder, [value, TEXT_DECODE_STREAM]);
          let start = 0;
          if (skipLF && text !== '' && StringPrototypeCharCodeAt(text, 0) === 0x0A) start = 1;
          skipLF = false;
          for (let i = start; i < text.length; i++) {
            const c = StringPrototypeCharCodeAt(text, i);
            if (c !== 0x0A && c !== 0x0D) continue;
            let ended = StringPrototypeSlice(text, start, i);
            if (pending.length > 0) {
              listPush(pending, ended);
              ended = EventSourceJoin(pending, '');
              pending = listNew();
            }
            line(ended);
            if (this.#readyState === ES_CLOSED) return;
            if (c === 0x0D) {
              if (i + 1 === text.length) skipLF = true;
              else if (StringPrototypeCharCodeAt(text, i + 1) === 0x0A) i++;
            }
            start = i + 1;
          }
          if (start < text.length) listPush(pending, StringPrototypeSlice(text, start));
        }
      } catch {
        // a network error while reading: as the end of the stream
      } finally {
        if (this.#stream === stream) this.#stream = null;
      }
      this.#reconnectLater();
    }
  }
  setToStringTag(EventSource.prototype, 'EventSource');
  eventSourceClass = EventSource;
  return EventSource;
}
lazyGlobal('EventSource', makeEventSource);
