// console: each call becomes one line in nginx's error log.

const CONSOLE_MAX_LINE = 4096;
const CONSOLE_MAX_DEPTH = 4;
const CONSOLE_MAX_ITEMS = 100;

// The built-in classes keep their state in private fields, which a generic
// walk cannot see; they register a summary so logs show more than "Headers {}".
// summarize(value) returns undefined for values that are not of its class.
// Read by index only: iterating it would hand the summarize closures to a
// tenant's Array.prototype[Symbol.iterator].
const consoleInspectors = listNew();

function registerInspector(name, summarize) {
  listPush(consoleInspectors, { name, summarize });
}

// state: { ancestors: objects being rendered (for cycles), length: output so
// far }. Rendering stops early once the line is full, so a huge object costs
// no more than a small one.
function consoleInspect(value, depth, state) {
  if (state.length > CONSOLE_MAX_LINE) return '\u2026';
  let text;
  switch (typeof value) {
    case 'string': text = JSONStringify(value); break;
    case 'bigint': text = `${value}n`; break;
    case 'symbol': text = String(value); break;
    case 'function': text = `[Function: ${String(value.name) || '(anonymous)'}]`; break;
    case 'object':
      if (value !== null) return consoleInspectObject(value, depth, state);
      text = 'null';
      break;
    default: text = Object.is(value, -0) ? '-0' : String(value);
  }
  state.length += text.length;
  return text;
}

function consoleErrorText(error) {
  const name = `${error.name}`;
  const message = error.message === undefined ? '' : `${error.message}`;
  return message === '' ? name : `${name}: ${message}`;
}

function consoleInspectObject(object, depth, state) {
  const note = (text) => {
    state.length += text.length;
    return text;
  };
  if (ArrayPrototypeIncludes(state.ancestors, object)) return note('[Circular]');
  if (object instanceof Error) return note(consoleErrorText(object));
  for (let i = 0; i < consoleInspectors.length; i++) {
    const summary = consoleInspectors[i].summarize(object);
    if (summary !== undefined) return `${consoleInspectors[i].name} ${consoleInspect(summary, depth, state)}`;
  }
  if (object instanceof Date) {
    return note(Number.isNaN(object.getTime()) ? 'Invalid Date' : object.toISOString());
  }
  if (object instanceof RegExp) return note(String(object));
  if (isArrayBuffer(object)) return note(`ArrayBuffer(${object.byteLength})`);
  if (depth >= CONSOLE_MAX_DEPTH) return note(Array.isArray(object) ? '[Array]' : '[Object]');

  const child = (value) => consoleInspect(value, depth + 1, state);
  const items = (count, render) => {
    const parts = listNew();
    for (let i = 0; i < MathMin(count, CONSOLE_MAX_ITEMS) && state.length <= CONSOLE_MAX_LINE; i++) {
      listPush(parts, render(i));
    }
    if (parts.length < count) listPush(parts, `... ${count - parts.length} more`);
    return consoleJoin(parts, ',');
  };

  const depthIndex = state.ancestors.length;
  listPush(state.ancestors, object);
  try {
    if (ArrayIsArray(object)) return `[${items(object.length, (i) => child(object[i]))}]`;
    if (ArrayBuffer.isView(object) && !(object instanceof DataView)) {
      return `${object.constructor.name}(${object.length}) [${items(object.length, (i) => child(object[i]))}]`;
    }
    if (object instanceof Map) {
      const entries = consoleFirstItems(object.entries());
      return `Map(${object.size}) {${items(object.size, (i) => `${child(entries[i][0])} => ${child(entries[i][1])}`)}}`;
    }
    if (object instanceof Set) {
      const values = consoleFirstItems(object.values());
      return `Set(${object.size}) {${items(object.size, (i) => child(values[i]))}}`;
    }
    const ownKeys = ReflectOwnKeys(object);
    const keys = listNew();
    for (let i = 0; i < ownKeys.length; i++) {
      if (ReflectGetOwnPropertyDescriptor(object, ownKeys[i])?.enumerable) listPush(keys, ownKeys[i]);
    }
    const body = items(keys.length, (i) => {
      const key = keys[i];
      const descriptor = ReflectGetOwnPropertyDescriptor(object, key);
      // Accessors are not called: logging must not run tenant getters.
      const value = descriptor === undefined ? child(undefined)
        : 'value' in descriptor ? child(descriptor.value)
          : note(descriptor.get && descriptor.set ? '[Getter/Setter]' : descriptor.get ? '[Getter]' : '[Setter]');
      return `${note(typeof key === 'symbol' ? `[${String(key)}]` : JSON.stringify(key))}:${value}`;
    });
    const prototype = Object.getPrototypeOf(object);
    const constructor = prototype === null || prototype === Object.prototype ? undefined : prototype.constructor;
    const name = typeof constructor === 'function' ? String(constructor.name) : '';
    return `${name === '' ? '' : `${name} `}{${body}}`;
  } finally {
    state.ancestors.length = depthIndex;
  }
}

function consoleFirstItems(iterator) {
  const first = [];
  for (const item of iterator) {
    if (first.length === CONSOLE_MAX_ITEMS) break;
    first.push(item);
  }
  return first;
}

// Top level: strings as they are, everything else inspected.
function consoleRender(value) {
  if (typeof value === 'string') return value;
  try {
    return consoleInspect(value, 0, { ancestors: listNew(), length: 0 });
  } catch {
    return '[value could not be formatted]';
  }
}

function consoleSubstitute(directive, value) {
  const number = (convert) => {
    if (typeof value === 'bigint') return `${value}n`;
    if (typeof value === 'symbol') return 'NaN';
    try {
      return String(convert(Number(value)));
    } catch {
      return 'NaN';
    }
  };
  switch (directive) {
    case 's': return consoleRender(value);
    case 'd': return number((n) => n);
    case 'i': return number(MathTrunc);
    case 'f': return number((n) => n);
    case 'j':
      try {
        return String(JSONStringify(value));
      } catch {
        return '[Circular]';
      }
    case 'c': return ''; // CSS has no meaning in a log file
    default: return consoleRender(typeof value === 'string' ? JSONStringify(value) : value); // %o %O
  }
}

const CONSOLE_DIRECTIVES = ['s', 'd', 'i', 'f', 'j', 'o', 'O', 'c', '%'];

// Joins a list (listNew) of strings; the built-ins' lists are never iterated.
function consoleJoin(parts, separator) {
  let text = '';
  for (let i = 0; i < parts.length; i++) text = i === 0 ? `${parts[i]}` : `${text}${separator}${parts[i]}`;
  return text;
}

// args is the rest parameter of a console method: a fresh array, read by index.
function consoleFormat(args) {
  const parts = listNew();
  let next = 0;
  if (typeof args[0] === 'string' && args.length > 1) {
    const format = args[0];
    next = 1;
    let text = '';
    let from = 0;
    for (let i = 0; i + 1 < format.length; i++) {
      if (format[i] !== '%' || !ArrayPrototypeIncludes(CONSOLE_DIRECTIVES, format[i + 1])) continue;
      const directive = format[i + 1];
      let replacement;
      if (directive === '%') replacement = '%';
      else if (next >= args.length) replacement = `%${directive}`;
      else replacement = consoleSubstitute(directive, args[next++]);
      text = `${text}${StringPrototypeSlice(format, from, i)}${replacement}`;
      from = i + 2;
      i++;
    }
    listPush(parts, `${text}${StringPrototypeSlice(format, from)}`);
  }
  for (; next < args.length; next++) listPush(parts, consoleRender(args[next]));
  return consoleJoin(parts, ' ');
}

// One call is one log line (console.table excepted: one line a row), indented
// by console.group(); control characters are escaped so a tenant cannot start
// a line of its own in the error log.
function consoleEmit(level, args) {
  consoleEmitText(level, consoleFormat(args));
}

const CONSOLE_CONTROL = /[\0-\x08\x0A-\x1F\x7F]/;

// What reaches native.log is made here with captured intrinsics only
// (prelude.js): whatever a tenant did to String.prototype or RegExp.prototype,
// the line is one line, escaped and bounded.
function consoleEmitText(level, text) {
  // Escaping only lengthens, so anything past the limit can be cut off first.
  const raw = StringPrototypeSlice(`${consoleGroupIndent}${text}`, 0, CONSOLE_MAX_LINE + 1);
  let line = raw;
  if (RegExpPrototypeExec(CONSOLE_CONTROL, raw) !== null) {
    line = '';
    for (let i = 0; i < raw.length; i++) {
      const c = StringPrototypeCharCodeAt(raw, i);
      if (c === 0x0A) line += '\\n';
      else if (c === 0x0D) line += '\\r';
      else if ((c < 0x20 && c !== 0x09) || c === 0x7F) line += `\\x${StringPrototypePadStart(NumberPrototypeToString(c, 16), 2, '0')}`;
      else line += raw[i];
    }
  }
  if (line.length > CONSOLE_MAX_LINE) {
    let end = CONSOLE_MAX_LINE - 1;
    const last = StringPrototypeCharCodeAt(line, end - 1);
    if (last >= 0xD800 && last <= 0xDBFF) end--; // do not split a surrogate pair
    line = `${StringPrototypeSlice(line, 0, end)}\u2026`;
  }
  native.log(level, line);
}

// State of group, count and time: per isolate, as in workerd, so it carries
// over from one request to the next.
const CONSOLE_MAX_GROUP_DEPTH = 32;
let consoleGroupDepth = 0;
let consoleGroupIndent = '';
const consoleCounts = new Map();
const consoleTimers = new Map();

function consoleLabel(label) {
  return label === undefined ? 'default' : toDOMString(label);
}

function consoleGroup(args) {
  if (args.length > 0) consoleEmit('info', args);
  consoleGroupDepth++;
  consoleGroupIndent = '  '.repeat(Math.min(consoleGroupDepth, CONSOLE_MAX_GROUP_DEPTH));
}

// The tenant's frames of the current stack, without the built-ins' own.
function consoleStack() {
  const stack = `${new Error().stack}`.split('\n').slice(1).map((frame) => frame.trim());
  return stack.filter((frame) => frame.startsWith('at ') && !frame.includes('dispatch:builtins'));
}

function consoleElapsed(label) {
  return `${label}: ${DateNow() - consoleTimers.get(label)}ms`;
}

// console.table, simplified: a box like Node's, one log line per row, at most
// CONSOLE_MAX_ITEMS rows; cells are rendered as console.log renders nested values.
function consoleTable(data, properties) {
  if (!isObject(data)) {
    consoleEmit('info', [data]);
    return;
  }
  const cell = (value) => consoleInspect(value, CONSOLE_MAX_DEPTH - 1, { ancestors: listNew(), length: 0 }).slice(0, 80);
  const isMap = data instanceof Map;
  const rows = isMap ? [...consoleFirstItems(data.entries())].map(([k, v], i) => [String(i), v, k])
    : data instanceof Set ? [...consoleFirstItems(data.values())].map((v, i) => [String(i), v])
      : Object.keys(data).slice(0, CONSOLE_MAX_ITEMS).map((key) => [key, data[key]]);
  const columns = [];
  let hasValues = false;
  for (const [, value] of rows) {
    if (isObject(value) && !(typeof value === 'function')) {
      for (const key of Object.keys(value)) if (!columns.includes(key)) columns.push(key);
    } else {
      hasValues = true;
    }
  }
  const shown = Array.isArray(properties) ? properties.map((p) => toDOMString(p)) : columns;
  const header = [isMap ? '(iteration index)' : '(index)', ...(isMap ? ['Key'] : []), ...shown,
    ...(hasValues && !Array.isArray(properties) ? ['Values'] : [])];
  const table = rows.map(([key, value, mapKey]) => {
    const line = [key, ...(isMap ? [cell(mapKey)] : [])];
    for (const column of shown) {
      line.push(isObject(value) && Object.hasOwn(value, column) ? cell(value[column]) : '');
    }
    if (hasValues && !Array.isArray(properties)) line.push(isObject(value) ? '' : cell(value));
    return line;
  });
  const widths = header.map((title, i) => Math.max(title.length, ...table.map((line) => line[i].length)) + 2);
  const rule = (left, middle, right) => left + widths.map((w) => '\u2500'.repeat(w)).join(middle) + right;
  const line = (cells) => `\u2502${cells.map((text, i) => ` ${text.padEnd(widths[i] - 1)}`).join('\u2502')}\u2502`;
  consoleEmitText('info', rule('\u250c', '\u252c', '\u2510'));
  consoleEmitText('info', line(header));
  consoleEmitText('info', rule('\u251c', '\u253c', '\u2524'));
  for (const cells of table) consoleEmitText('info', line(cells));
  consoleEmitText('info', rule('\u2514', '\u2534', '\u2518'));
}

const consoleNamespace = {
  log(...args) { consoleEmit('info', args); },
  info(...args) { consoleEmit('info', args); },
  debug(...args) { consoleEmit('debug', args); },
  warn(...args) { consoleEmit('warn', args); },
  error(...args) { consoleEmit('error', args); },
  dir(value) { consoleEmit('info', [consoleRender(value)]); },
  dirxml(...args) { consoleEmit('info', args); },
  trace(...args) {
    const message = args.length > 0 ? `Trace: ${consoleFormat(args)}` : 'Trace';
    consoleEmitText('info', [message, ...consoleStack()].join('; '));
  },
  assert(condition, ...args) {
    if (condition) return;
    if (typeof args[0] === 'string') args[0] = `Assertion failed: ${args[0]}`;
    else args.unshift('Assertion failed');
    consoleEmit('error', args);
  },
  table(data, properties) { consoleTable(data, properties); },
  group(...args) { consoleGroup(args); },
  groupCollapsed(...args) { consoleGroup(args); },
  groupEnd() {
    if (consoleGroupDepth === 0) return;
    consoleGroupDepth--;
    consoleGroupIndent = '  '.repeat(Math.min(consoleGroupDepth, CONSOLE_MAX_GROUP_DEPTH));
  },
  count(label = undefined) {
    const name = consoleLabel(label);
    const count = (consoleCounts.get(name) ?? 0) + 1;
    consoleCounts.set(name, count);
    consoleEmitText('info', `${name}: ${count}`);
  },
  countReset(label = undefined) {
    const name = consoleLabel(label);
    if (consoleCounts.has(name)) consoleCounts.set(name, 0);
    else consoleEmitText('warn', `Count for '${name}' does not exist`);
  },
  time(label = undefined) {
    const name = consoleLabel(label);
    if (consoleTimers.has(name)) consoleEmitText('warn', `Timer '${name}' already exists`);
    else consoleTimers.set(name, DateNow());
  },
  timeLog(label = undefined, ...data) {
    const name = consoleLabel(label);
    if (!consoleTimers.has(name)) consoleEmitText('warn', `Timer '${name}' does not exist`);
    else consoleEmit('info', [consoleElapsed(name), ...data]);
  },
  timeEnd(label = undefined) {
    const name = consoleLabel(label);
    if (!consoleTimers.has(name)) {
      consoleEmitText('warn', `Timer '${name}' does not exist`);
      return;
    }
    consoleEmitText('info', consoleElapsed(name));
    consoleTimers.delete(name);
  },
  // Nothing to do in a log file.
  clear() {},
  profile() {},
  profileEnd() {},
  timeStamp() {},
};
setToStringTag(consoleNamespace, 'console');
defineGlobal('console', consoleNamespace);
