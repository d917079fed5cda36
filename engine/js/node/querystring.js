// node:querystring: Node's parse/stringify/escape/unescape.
'use strict';

function escape(str) {
  return encodeURIComponent(str).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function unescape(str) {
  try {
    return decodeURIComponent(str);
  } catch {
    return str.replace(/%([0-9a-fA-F]{2})/g, (m, hex) => String.fromCharCode(parseInt(hex, 16)));
  }
}

function stringifyPrimitive(v) {
  if (typeof v === 'string') return v;
  if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return '';
}

function stringify(obj, sep = '&', eq = '=', options = {}) {
  const encode = options.encodeURIComponent || escape;
  if (obj === null || typeof obj !== 'object') return '';
  const out = [];
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    const k = encode(stringifyPrimitive(key));
    if (Array.isArray(value)) {
      for (const v of value) out.push(k + eq + encode(stringifyPrimitive(v)));
    } else {
      out.push(k + eq + encode(stringifyPrimitive(value)));
    }
  }
  return out.join(sep);
}

function parse(qs, sep = '&', eq = '=', options = {}) {
  const decode = options.decodeURIComponent || unescape;
  const maxKeys = typeof options.maxKeys === 'number' ? options.maxKeys : 1000;
  const obj = Object.create(null);
  if (typeof qs !== 'string' || qs.length === 0) return obj;
  let parts = qs.split(sep);
  if (maxKeys > 0) parts = parts.slice(0, maxKeys);
  for (const part of parts) {
    if (part === '') continue;
    const at = part.indexOf(eq);
    const rawKey = at >= 0 ? part.slice(0, at) : part;
    const rawValue = at >= 0 ? part.slice(at + eq.length) : '';
    const key = decode(rawKey.replace(/\+/g, ' '));
    const value = decode(rawValue.replace(/\+/g, ' '));
    if (!(key in obj)) obj[key] = value;
    else if (Array.isArray(obj[key])) obj[key].push(value);
    else obj[key] = [obj[key], value];
  }
  return obj;
}

module.exports = { parse, stringify, escape, unescape, decode: parse, encode: stringify };
