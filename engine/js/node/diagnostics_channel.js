// node:diagnostics_channel: named channels with subscribers (publish calls
// them synchronously), as libraries that bundle for Workers expect.
'use strict';

const channels = new Map();

class Channel {
  constructor(name) {
    this.name = name;
    this._subscribers = [];
  }
  get hasSubscribers() {
    return this._subscribers.length > 0;
  }
  subscribe(fn) {
    if (typeof fn !== 'function') throw new TypeError('The "subscription" argument must be of type function');
    this._subscribers.push(fn);
  }
  unsubscribe(fn) {
    const i = this._subscribers.indexOf(fn);
    if (i < 0) return false;
    this._subscribers.splice(i, 1);
    return true;
  }
  publish(message) {
    for (const fn of this._subscribers.slice()) {
      try {
        fn(message, this.name);
      } catch (error) {
        queueMicrotask(() => { throw error; });
      }
    }
  }
  bindStore() {}
  unbindStore() { return false; }
  runStores(data, fn, thisArg, ...args) {
    this.publish(data);
    return Reflect.apply(fn, thisArg, args);
  }
}

function channel(name) {
  if (typeof name !== 'string' && typeof name !== 'symbol') {
    throw new TypeError('The "name" argument must be of type string or symbol');
  }
  let c = channels.get(name);
  if (c === undefined) {
    c = new Channel(name);
    channels.set(name, c);
  }
  return c;
}

function tracingChannel(nameOrChannels) {
  const of = (event) => (typeof nameOrChannels === 'string'
    ? channel(`tracing:${nameOrChannels}:${event}`) : nameOrChannels[event]);
  const start = of('start');
  const end = of('end');
  const asyncStart = of('asyncStart');
  const asyncEnd = of('asyncEnd');
  const error = of('error');
  return {
    start, end, asyncStart, asyncEnd, error,
    get hasSubscribers() {
      return [start, end, asyncStart, asyncEnd, error].some((c) => c.hasSubscribers);
    },
    traceSync(fn, context = {}, thisArg, ...args) {
      start.publish(context);
      try {
        const result = Reflect.apply(fn, thisArg, args);
        context.result = result;
        return result;
      } catch (e) {
        context.error = e;
        error.publish(context);
        throw e;
      } finally {
        end.publish(context);
      }
    },
    tracePromise(fn, context = {}, thisArg, ...args) {
      start.publish(context);
      try {
        return Promise.resolve(Reflect.apply(fn, thisArg, args)).then((result) => {
          context.result = result;
          asyncStart.publish(context);
          asyncEnd.publish(context);
          return result;
        }, (e) => {
          context.error = e;
          error.publish(context);
          asyncStart.publish(context);
          asyncEnd.publish(context);
          throw e;
        });
      } finally {
        end.publish(context);
      }
    },
  };
}

module.exports = {
  channel,
  hasSubscribers: (name) => channels.has(name) && channels.get(name).hasSubscribers,
  subscribe: (name, fn) => channel(name).subscribe(fn),
  unsubscribe: (name, fn) => channel(name).unsubscribe(fn),
  tracingChannel,
  Channel,
};
