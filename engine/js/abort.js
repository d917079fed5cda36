// AbortController and AbortSignal (WHATWG DOM).

let abortSignalIs; // (value) -> true for an AbortSignal (brand check)
let abortSignalAddAlgorithm; // (signal, () => void) -> runs once when the signal aborts, before its event
let abortSignalCreate; // () -> a new AbortSignal that is not aborted
let abortSignalAbort; // (signal, reason) -> aborts it (reason undefined: an AbortError DOMException)
let abortSignalAborted; // (signal) -> whether it aborted, never through a getter a tenant can replace
let abortSignalReason; // (signal) -> its reason, likewise

class AbortSignal extends EventTarget {
  #aborted = false;
  #reason = undefined;
  #algorithms = listNew(); // run on abort, then dropped (never iterated: see prelude.js)
  #onabort = null;
  #onabortListener = null;

  constructor(token) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
    super();
  }

  static abort(reason = undefined) {
    const signal = new AbortSignal(INTERNAL);
    signal.#aborted = true;
    signal.#reason = reason === undefined ? new DOMException('signal is aborted without reason', 'AbortError') : reason;
    return signal;
  }

  static timeout(milliseconds) {
    requireArgs(arguments.length, 1, 'AbortSignal.timeout');
    const ms = Number(milliseconds);
    if (!NumberIsFinite(ms) || ms < 0 || ms > 9007199254740991) {
      throw new TypeError('AbortSignal.timeout: the delay must be a non-negative integer');
    }
    const signal = new AbortSignal(INTERNAL);
    // The engine's timer, not globalThis.setTimeout: a tenant may have
    // replaced that one, and would be handed the callback that aborts.
    native.setTimer(() => {
      signal.#abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }, timerDelay(ms, 0), false);
    return signal;
  }

  static any(signals) {
    requireArgs(arguments.length, 1, 'AbortSignal.any');
    if (!isObject(signals) || typeof signals[Symbol.iterator] !== 'function') {
      throw new TypeError('AbortSignal.any: the argument must be a sequence of AbortSignals');
    }
    // The tenant's sequence is iterated as WebIDL says; the list made of it
    // is the built-ins' own, walked by index.
    const list = listNew();
    for (const s of signals) {
      if (!abortSignalIs(s)) throw new TypeError('AbortSignal.any: every entry must be an AbortSignal');
      listPush(list, s);
    }
    const result = new AbortSignal(INTERNAL);
    for (let i = 0; i < list.length; i++) {
      if (list[i].#aborted) {
        result.#aborted = true;
        result.#reason = list[i].#reason;
        return result;
      }
    }
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      listPush(s.#algorithms, () => result.#abort(s.#reason));
    }
    return result;
  }

  get aborted() {
    return this.#aborted;
  }

  get reason() {
    return this.#reason;
  }

  throwIfAborted() {
    if (this.#aborted) throw this.#reason;
  }

  get onabort() {
    return this.#onabort;
  }

  set onabort(handler) {
    this.#onabort = isObject(handler) ? handler : null;
    if (this.#onabort !== null && this.#onabortListener === null) {
      // An event handler attribute: one listener, added when first set,
      // that calls whatever the attribute holds then.
      this.#onabortListener = (event) => {
        const current = this.#onabort;
        if (typeof current === 'function') return ReflectApply(current, this, [event]);
        return undefined;
      };
      eventTargetAddListener(this, 'abort', this.#onabortListener);
    }
  }

  #abort(reason) {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason === undefined ? new DOMException('signal is aborted without reason', 'AbortError') : reason;
    const algorithms = this.#algorithms;
    this.#algorithms = listNew();
    for (let i = 0; i < algorithms.length; i++) algorithms[i]();
    eventTargetDispatch(this, new Event('abort'));
  }

  static {
    abortSignalIs = (value) => isObject(value) && #aborted in value;
    abortSignalAddAlgorithm = (signal, algorithm) => {
      if (!signal.#aborted) listPush(signal.#algorithms, algorithm);
    };
    abortSignalCreate = () => new AbortSignal(INTERNAL);
    abortSignalAbort = (signal, reason) => signal.#abort(reason);
    abortSignalAborted = (signal) => signal.#aborted;
    abortSignalReason = (signal) => signal.#reason;
    registerInspector('AbortSignal', (value) => {
      if (!(#aborted in value)) return undefined;
      return value.#aborted ? { aborted: true, reason: value.#reason } : { aborted: false };
    });
  }
}

setToStringTag(AbortSignal.prototype, 'AbortSignal');
defineGlobal('AbortSignal', AbortSignal);

class AbortController {
  #signal = new AbortSignal(INTERNAL);

  get signal() {
    return this.#signal;
  }

  abort(reason = undefined) {
    abortSignalAbort(this.#signal, reason);
  }
}

setToStringTag(AbortController.prototype, 'AbortController');
defineGlobal('AbortController', AbortController);
