// performance (High Resolution Time, as Workers has it). As in workerd the
// time origin is 0 and now() is Date.now(): it reads the clock the engine
// freezes while a script computes (platform.h), so it moves only between
// turns, on I/O, and never resolves finer than a millisecond. A script
// learns nothing about timing from it that Date.now() does not tell.

class Performance {
  constructor(token) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
  }

  get timeOrigin() {
    return 0;
  }

  now() {
    return DateNow(); // captured: a tenant's Date.now is not asked
  }

  toJSON() {
    return { timeOrigin: 0 };
  }
}

setToStringTag(Performance.prototype, 'Performance');
defineGlobal('Performance', Performance);
defineGlobal('performance', new Performance(INTERNAL));
