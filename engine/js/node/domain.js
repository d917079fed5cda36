// node:domain, as Workers has it (deprecated in Node): a Domain is an
// EventEmitter whose run/bind/intercept call the function; errors are not
// routed to it (there is no process-wide uncaught handler to hook).
'use strict';
const EventEmitter = require('node:events');

class Domain extends EventEmitter {
  constructor() {
    super();
    this.members = [];
  }
  add(member) { if (!this.members.includes(member)) this.members.push(member); }
  remove(member) {
    const at = this.members.indexOf(member);
    if (at !== -1) this.members.splice(at, 1);
  }
  run(fn, ...args) {
    this.enter();
    try {
      return fn.apply(this, args);
    } finally {
      this.exit();
    }
  }
  bind(fn) {
    const domain = this;
    return function bound(...args) { return domain.run(() => fn.apply(this, args)); };
  }
  intercept(fn) {
    const domain = this;
    return function intercepted(error, ...args) {
      if (error) {
        domain.emit('error', error);
        return undefined;
      }
      return domain.run(() => fn.apply(this, args));
    };
  }
  enter() {
    exports.active = this;
    stack.push(this);
  }
  exit() {
    const at = stack.lastIndexOf(this);
    if (at !== -1) stack.length = at;
    exports.active = stack.length > 0 ? stack[stack.length - 1] : null;
  }
  dispose() { this.exit(); }
}
const stack = [];
exports.Domain = Domain;
exports.active = null;
exports.create = exports.createDomain = () => new Domain();
exports._stack = stack;
