// scheduler.wait(ms, { signal }), as Workers has it: a promise that
// resolves after ms on a timer of the request (the bounds and the per-request
// count of setTimeout apply), or rejects with the signal's reason when it
// aborts first. Only captured intrinsics are used: a tenant that replaced
// Promise, setTimeout or AbortSignal's getters changes only its own code.

class Scheduler {
  constructor(token) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
  }

  wait(delay, options = undefined) {
    requireArgs(arguments.length, 1, 'scheduler.wait');
    const ms = timerDelay(delay, 0);
    let signal = undefined;
    if (options !== undefined && options !== null) {
      if (!isObject(options)) return PromiseReject(new TypeError('scheduler.wait: options must be an object'));
      signal = options.signal;
      if (signal !== undefined && signal !== null && !abortSignalIs(signal)) {
        return PromiseReject(new TypeError('scheduler.wait: options.signal must be an AbortSignal'));
      }
    }
    return new Promise((resolve, reject) => {
      if (signal !== undefined && signal !== null && abortSignalAborted(signal)) {
        reject(abortSignalReason(signal));
        return;
      }
      // Throws outside a request (top-level code): the promise rejects.
      const id = native.setTimer(() => resolve(undefined), ms, false);
      if (signal !== undefined && signal !== null) {
        abortSignalAddAlgorithm(signal, () => {
          native.clearTimer(id);
          reject(abortSignalReason(signal));
        });
      }
    });
  }
}

setToStringTag(Scheduler.prototype, 'Scheduler');
defineGlobal('Scheduler', Scheduler);
defineGlobal('scheduler', new Scheduler(INTERNAL));
