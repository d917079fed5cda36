// node:process, as Workers has it: an EventEmitter with env (the script's
// text bindings and secrets, when Workers would fill it), nextTick (a
// microtask that keeps the caller's AsyncLocalStorage frame), and the
// fields libraries read. Nothing here reaches the host: no real pid, argv,
// cwd or exit.
'use strict';
const EventEmitter = require('node:events');

const proc = new EventEmitter();
const startedAt = Date.now();

function nextTick(callback, ...args) {
  if (typeof callback !== 'function') {
    throw new TypeError('The "callback" argument must be of type function');
  }
  queueMicrotask(() => callback(...args));
}

function hrtime(previous) {
  const now = performanceNow();
  let seconds = Math.floor(now / 1e3);
  let nanos = Math.floor((now % 1e3) * 1e6);
  if (Array.isArray(previous)) {
    seconds -= previous[0];
    nanos -= previous[1];
    if (nanos < 0) {
      seconds--;
      nanos += 1e9;
    }
  }
  return [seconds, nanos];
}
hrtime.bigint = () => BigInt(Math.floor(performanceNow() * 1e6));

function performanceNow() {
  const perf = globalThis.performance;
  return perf && typeof perf.now === 'function' ? perf.now() : Date.now() - startedAt;
}

function notSupported(name) {
  return () => {
    const error = new Error(`process.${name}() is not supported in this runtime`);
    error.code = 'ERR_METHOD_NOT_IMPLEMENTED';
    throw error;
  };
}

Object.assign(proc, {
  env: internals.env(),
  nextTick,
  hrtime,
  title: 'workerd',
  version: 'v22.14.0',
  versions: { node: '22.14.0' },
  platform: 'linux',
  arch: 'x64',
  release: { name: 'node' },
  argv: [],
  argv0: 'workerd',
  execArgv: [],
  execPath: '',
  pid: 1,
  ppid: 0,
  exitCode: undefined,
  browser: false,
  features: { inspector: false, debug: false, uv: false, ipv6: false, tls_alpn: false,
              tls_sni: false, tls_ocsp: false, tls: false, cached_builtins: true, require_module: false,
              typescript: false },
  config: {},
  stdout: undefined,
  stderr: undefined,
  cwd: () => '/bundle',
  chdir: notSupported('chdir'),
  umask: () => 0o22,
  uptime: () => (Date.now() - startedAt) / 1e3,
  memoryUsage: () => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }),
  cpuUsage: () => ({ user: 0, system: 0 }),
  emitWarning(warning, type) {
    const text = typeof warning === 'string' ? `${type || 'Warning'}: ${warning}` : String(warning);
    console.warn(text);
  },
  exit: notSupported('exit'),
  abort: notSupported('abort'),
  kill: notSupported('kill'),
  getBuiltinModule: (name) => internals.builtin(name),
});
proc.memoryUsage.rss = () => 0;

module.exports = proc;
