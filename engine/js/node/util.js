// node:util: format and inspect (a compact rendering of Node's), inherits,
// promisify/callbackify, deprecate, debuglog, types, isDeepStrictEqual and
// the encoders, as Workers' node:util has them.
'use strict';
const types = require('node:util/types');

const customInspect = Symbol.for('nodejs.util.inspect.custom');
const customPromisify = Symbol.for('nodejs.util.promisify.custom');

function quote(s) {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function formatValue(value, depth, seen, options) {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined': return 'undefined';
    case 'string': return depth === options.depth + 1 ? value : quote(value);
    case 'number': return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint': return `${value}n`;
    case 'boolean': return String(value);
    case 'symbol': return value.toString();
    default: break;
  }
  if (typeof value[customInspect] === 'function' && value[customInspect] !== inspect) {
    const out = value[customInspect](depth, options, inspect);
    if (typeof out === 'string') return out;
    return formatValue(out, depth, seen, options);
  }
  if (seen.includes(value)) return '[Circular *1]';
  if (typeof value === 'function') {
    const kind = types.isAsyncFunction(value) ? 'AsyncFunction'
      : /^class\s/.test(Function.prototype.toString.call(value)) ? 'class' : 'Function';
    if (kind === 'class') return `[class ${value.name || '(anonymous)'}]`;
    return `[${kind}: ${value.name || '(anonymous)'}]`;
  }
  if (types.isDate(value)) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (types.isRegExp(value)) return RegExp.prototype.toString.call(value);
  if (types.isNativeError(value)) return value.stack || `${value.name}: ${value.message}`;
  if (types.isPromise(value)) return 'Promise { <pending> }';
  if (depth < 0) return Array.isArray(value) ? '[Array]' : '[Object]';

  seen.push(value);
  const next = (v) => formatValue(v, depth - 1, seen, { ...options, depth: options.depth });
  let parts;
  let open = '{';
  let close = '}';
  let prefix = '';
  if (Array.isArray(value)) {
    parts = value.map((v) => next(v));
    open = '[';
    close = ']';
  } else if (types.isTypedArray(value)) {
    const name = value.constructor && value.constructor.name || 'TypedArray';
    if (name === 'Buffer') {
      const hex = [];
      for (let i = 0; i < Math.min(value.length, 50); i++) hex.push(value[i].toString(16).padStart(2, '0'));
      seen.pop();
      return `<Buffer${hex.length ? ' ' + hex.join(' ') : ''}${value.length > 50 ? ` ... ${value.length - 50} more bytes` : ''}>`;
    }
    parts = Array.prototype.slice.call(value, 0, 100).map(String);
    prefix = `${name}(${value.length}) `;
    open = '[';
    close = ']';
  } else if (types.isMap(value)) {
    parts = [...value].map(([k, v]) => `${next(k)} => ${next(v)}`);
    prefix = `Map(${value.size}) `;
  } else if (types.isSet(value)) {
    parts = [...value].map((v) => next(v));
    prefix = `Set(${value.size}) `;
  } else {
    parts = [];
    const ctor = value.constructor;
    if (Object.getPrototypeOf(value) === null) prefix = '[Object: null prototype] ';
    else if (ctor && typeof ctor.name === 'string' && ctor.name !== 'Object') prefix = `${ctor.name} `;
  }
  if (!Array.isArray(value) && !types.isTypedArray(value)) {
    for (const key of Object.keys(value)) {
      const name = IDENTIFIER.test(key) ? key : quote(key);
      parts.push(`${name}: ${next(value[key])}`);
    }
  }
  seen.pop();
  if (parts.length === 0) return `${prefix}${open}${close}`;
  const oneLine = `${prefix}${open} ${parts.join(', ')} ${close}`;
  if (oneLine.length <= 72) return oneLine;
  return `${prefix}${open}\n  ${parts.join(',\n  ').replace(/\n/g, '\n  ').replace(/^ {2}/, '')}\n${close}`;
}

function inspect(value, options) {
  const opts = { depth: 2, ...(typeof options === 'object' && options !== null ? options : {}) };
  if (opts.depth === null) opts.depth = Infinity;
  return formatValue(value, opts.depth, [], opts);
}
inspect.custom = customInspect;
inspect.defaultOptions = { depth: 2 };

function formatWithOptions(options, first, ...args) {
  if (typeof first !== 'string') {
    return [first, ...args].map((v) => (typeof v === 'string' ? v : inspect(v, options))).join(' ');
  }
  let i = 0;
  let out = first.replace(/%([sdifjoOc%])/g, (match, code) => {
    if (code === '%') return '%';
    if (i >= args.length) return match;
    const arg = args[i++];
    switch (code) {
      case 's':
        if (typeof arg === 'bigint') return `${arg}n`;
        if (typeof arg === 'object' && arg !== null) return inspect(arg, { ...options, depth: 1 });
        return String(arg);
      case 'd': return typeof arg === 'bigint' ? `${arg}n` : typeof arg === 'symbol' ? 'NaN' : String(Number(arg));
      case 'i': return typeof arg === 'bigint' ? `${arg}n` : typeof arg === 'symbol' ? 'NaN' : String(parseInt(arg, 10));
      case 'f': return typeof arg === 'symbol' ? 'NaN' : String(parseFloat(arg));
      case 'j':
        try {
          return JSON.stringify(arg);
        } catch {
          return '[Circular]';
        }
      case 'o': return inspect(arg, { ...options, depth: 4 });
      case 'O': return inspect(arg, options);
      case 'c': return '';
      default: return match;
    }
  });
  for (; i < args.length; i++) {
    const arg = args[i];
    out += ` ${typeof arg === 'string' ? arg : inspect(arg, options)}`;
  }
  return out;
}

function format(...args) {
  return formatWithOptions({}, ...args);
}

function inherits(ctor, superCtor) {
  if (typeof ctor !== 'function' || typeof superCtor !== 'function' || superCtor.prototype === undefined) {
    throw new TypeError('inherits(ctor, superCtor) takes two constructors');
  }
  Object.defineProperty(ctor, 'super_', { value: superCtor, writable: true, configurable: true });
  Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
}

function promisify(original) {
  if (typeof original !== 'function') throw new TypeError('The "original" argument must be of type function');
  // Node's timers carry a promisify.custom: (delay, value) -> promise.
  if (original === globalThis.setTimeout) {
    return (ms, value) => new Promise((resolve) => setTimeout(resolve, ms, value));
  }
  if (original === globalThis.setImmediate) {
    return (value) => new Promise((resolve) => setTimeout(resolve, 0, value));
  }
  if (original[customPromisify]) {
    const fn = original[customPromisify];
    if (typeof fn !== 'function') throw new TypeError('util.promisify.custom must be a function');
    return fn;
  }
  function fn(...args) {
    return new Promise((resolve, reject) => {
      Reflect.apply(original, this, [...args, (err, value) => (err ? reject(err) : resolve(value))]);
    });
  }
  Object.setPrototypeOf(fn, Object.getPrototypeOf(original));
  Object.defineProperty(fn, customPromisify, { value: fn, configurable: true });
  return Object.defineProperties(fn, Object.getOwnPropertyDescriptors(original));
}
promisify.custom = customPromisify;

function callbackify(original) {
  if (typeof original !== 'function') throw new TypeError('The "original" argument must be of type function');
  return function (...args) {
    const callback = args.pop();
    if (typeof callback !== 'function') throw new TypeError('The last argument must be of type function');
    Reflect.apply(original, this, args).then(
      (value) => queueMicrotask(() => callback(null, value)),
      (reason) => {
        let err = reason;
        if (!err) {
          err = new Error('Promise was rejected with a falsy value');
          err.reason = reason;
        }
        queueMicrotask(() => callback(err));
      });
  };
}

function deprecate(fn, message) {
  let warned = false;
  return function (...args) {
    if (!warned) {
      warned = true;
      console.warn(`DeprecationWarning: ${message}`);
    }
    return new.target ? Reflect.construct(fn, args, new.target) : Reflect.apply(fn, this, args);
  };
}

function debuglog() {
  const log = () => {};
  log.enabled = false;
  return log;
}

function isDeepStrictEqual(a, b) {
  return deepEqual(a, b, true, []);
}

// The comparison node:assert's deepEqual/deepStrictEqual make.
function deepEqual(a, b, strict, seen) {
  if (strict ? Object.is(a, b) : a == b || (a !== a && b !== b)) return true; // eslint-disable-line eqeqeq
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (strict && Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const tag = Object.prototype.toString.call(a);
  if (tag !== Object.prototype.toString.call(b)) return false;
  for (const [x, y] of seen) if (x === a && y === b) return true;
  seen.push([a, b]);
  try {
    if (types.isDate(a)) return a.getTime() === b.getTime();
    if (types.isRegExp(a)) return String(a) === String(b) && a.lastIndex === b.lastIndex;
    if (types.isNativeError(a) && (a.message !== b.message || a.name !== b.name)) return false;
    if (types.isBoxedPrimitive(a)) return Object.is(a.valueOf(), b.valueOf());
    if (ArrayBuffer.isView(a) || types.isArrayBuffer(a)) {
      const x = ArrayBuffer.isView(a) ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength) : new Uint8Array(a);
      const y = ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
      if (!ArrayBuffer.isView(a)) return true;
    }
    if (types.isMap(a)) {
      if (a.size !== b.size) return false;
      for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k), strict, seen)) return false;
    } else if (types.isSet(a)) {
      if (a.size !== b.size) return false;
      for (const v of a) {
        if (b.has(v)) continue;
        if (typeof v !== 'object' || v === null) return false;
        let found = false;
        for (const w of b) if (deepEqual(v, w, strict, seen)) { found = true; break; }
        if (!found) return false;
      }
    }
    const keysA = Object.keys(a);
    const keysB = Object.keys(b);
    if (keysA.length !== keysB.length) return false;
    for (const key of keysA) {
      if (!Object.prototype.hasOwnProperty.call(b, key)) return false;
      if (!deepEqual(a[key], b[key], strict, seen)) return false;
    }
    if (strict) {
      const symbolsA = Object.getOwnPropertySymbols(a).filter((s) => Object.prototype.propertyIsEnumerable.call(a, s));
      const symbolsB = Object.getOwnPropertySymbols(b).filter((s) => Object.prototype.propertyIsEnumerable.call(b, s));
      if (symbolsA.length !== symbolsB.length) return false;
      for (const s of symbolsA) if (!deepEqual(a[s], b[s], strict, seen)) return false;
    }
    return true;
  } finally {
    seen.pop();
  }
}

function stripVTControlCharacters(str) {
  return String(str).replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
}

function toUSVString(str) {
  return String(str).toWellFormed ? String(str).toWellFormed()
    : String(str).replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

// styleText's names (Node's inspect.colors): [open, close] SGR codes.
const STYLES = {
  __proto__: null,
  reset: [0, 0], bold: [1, 22], dim: [2, 22], italic: [3, 23], underline: [4, 24], blink: [5, 25], inverse: [7, 27],
  hidden: [8, 28], strikethrough: [9, 29], doubleunderline: [21, 24], framed: [51, 54], overlined: [53, 55],
  black: [30, 39], red: [31, 39], green: [32, 39], yellow: [33, 39], blue: [34, 39], magenta: [35, 39], cyan: [36, 39],
  white: [37, 39], gray: [90, 39], redBright: [91, 39], greenBright: [92, 39], yellowBright: [93, 39], blueBright: [94, 39],
  magentaBright: [95, 39], cyanBright: [96, 39], whiteBright: [97, 39], bgBlack: [40, 49], bgRed: [41, 49], bgGreen: [42, 49],
  bgYellow: [43, 49], bgBlue: [44, 49], bgMagenta: [45, 49], bgCyan: [46, 49], bgWhite: [47, 49], bgGray: [100, 49],
  bgRedBright: [101, 49], bgGreenBright: [102, 49], bgYellowBright: [103, 49], bgBlueBright: [104, 49],
  bgMagentaBright: [105, 49], bgCyanBright: [106, 49], bgWhiteBright: [107, 49],
};
STYLES.grey = STYLES.gray;
STYLES.blackBright = STYLES.gray;
STYLES.bgGrey = STYLES.bgGray;
STYLES.bgBlackBright = STYLES.bgGray;

function styleText(format, text) {
  if (typeof text !== 'string') throw new TypeError('The "text" argument must be of type string');
  let left = '';
  let right = '';
  for (const name of Array.isArray(format) ? format : [format]) {
    const codes = STYLES[name];
    if (codes === undefined) {
      const error = new TypeError(`The argument 'format' must be one of: ${Object.keys(STYLES).join(', ')}. Received ${format}`);
      error.code = 'ERR_INVALID_ARG_VALUE';
      throw error;
    }
    left += `\u001b[${codes[0]}m`;
    right = `\u001b[${codes[1]}m${right}`;
  }
  return `${left}${text}${right}`;
}

// Resolves when signal aborts.
function aborted(signal) {
  if (signal === undefined || typeof signal.addEventListener !== 'function') {
    return Promise.reject(new TypeError('The "signal" argument must be an instance of AbortSignal'));
  }
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

module.exports = {
  styleText,
  aborted,
  isBuffer: (v) => (globalThis.Buffer ? globalThis.Buffer.isBuffer(v) : require('node:buffer').Buffer.isBuffer(v)),
  transferableAbortController: () => new AbortController(),
  transferableAbortSignal: (signal) => signal,
  ...require('node/unimplemented.js')('util', ['parseArgs', 'parseEnv', 'MIMEType', 'MIMEParams', 'getSystemErrorName',
    'getSystemErrorMap']),
  format,
  formatWithOptions,
  inspect,
  inherits,
  promisify,
  callbackify,
  deprecate,
  debuglog,
  debug: debuglog,
  isDeepStrictEqual,
  types,
  TextEncoder: globalThis.TextEncoder,
  TextDecoder: globalThis.TextDecoder,
  stripVTControlCharacters,
  toUSVString,
  isArray: Array.isArray,
  isBoolean: (v) => typeof v === 'boolean',
  isNull: (v) => v === null,
  isNullOrUndefined: (v) => v === null || v === undefined,
  isNumber: (v) => typeof v === 'number',
  isString: (v) => typeof v === 'string',
  isSymbol: (v) => typeof v === 'symbol',
  isUndefined: (v) => v === undefined,
  isObject: (v) => v !== null && typeof v === 'object',
  isFunction: (v) => typeof v === 'function',
  isPrimitive: (v) => v === null || (typeof v !== 'object' && typeof v !== 'function'),
  isRegExp: types.isRegExp,
  isDate: types.isDate,
  isError: types.isNativeError,
};
// For node:assert only; not an export.
Object.defineProperty(module.exports, '_deepEqual', { value: deepEqual });
