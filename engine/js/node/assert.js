// node:assert: Node's assertions (legacy and strict modes) over util's
// inspect and deep comparison; AssertionError carries actual, expected,
// operator and code 'ERR_ASSERTION' as Node's does.
'use strict';
const util = require('node:util');
const deepEqual = util._deepEqual;

class AssertionError extends Error {
  constructor(options = {}) {
    const { message, actual, expected, operator } = options;
    super(message !== undefined ? String(message)
      : `${util.inspect(actual)} ${operator} ${util.inspect(expected)}`);
    this.name = 'AssertionError';
    this.code = 'ERR_ASSERTION';
    this.actual = actual;
    this.expected = expected;
    this.operator = operator;
    this.generatedMessage = message === undefined;
  }
}

function fail(actual, expected, message, operator) {
  if (message instanceof Error) throw message;
  throw new AssertionError({ actual, expected, message, operator });
}

function ok(value, message) {
  if (!value) {
    fail(value, true, message === undefined && arguments.length === 0
      ? 'No value argument passed to `assert.ok()`'
      : message ?? 'The expression evaluated to a falsy value', '==');
  }
}

function matches(error, expected, fnName) {
  if (expected === undefined) return true;
  if (typeof expected === 'function') {
    if (expected.prototype !== undefined && error instanceof expected) return true;
    if (Error.isPrototypeOf(expected) || expected === Error) return false;
    return expected.call({}, error) === true;
  }
  if (expected instanceof RegExp) return expected.test(String(error));
  if (typeof expected === 'object' && expected !== null) {
    for (const key of Object.keys(expected)) {
      const want = expected[key];
      const got = error == null ? undefined : error[key];
      if (want instanceof RegExp && typeof got === 'string' ? !want.test(got) : !deepEqual(got, want, true, [])) {
        return false;
      }
    }
    return true;
  }
  throw new TypeError(`${fnName}: "expected" must be a function, a RegExp or an object`);
}

function throws(fn, expected, message) {
  if (typeof fn !== 'function') throw new TypeError('The "fn" argument must be of type function');
  if (typeof expected === 'string') {
    message = expected;
    expected = undefined;
  }
  try {
    fn();
  } catch (error) {
    if (!matches(error, expected, 'throws')) {
      if (expected instanceof RegExp || typeof expected === 'object') {
        fail(error, expected, message ?? `The error does not match ${util.inspect(expected)}`, 'throws');
      }
      throw error;
    }
    return;
  }
  fail(undefined, expected, message ?? 'Missing expected exception.', 'throws');
}

async function rejects(promiseOrFn, expected, message) {
  if (typeof expected === 'string') {
    message = expected;
    expected = undefined;
  }
  const promise = typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn;
  try {
    await promise;
  } catch (error) {
    if (!matches(error, expected, 'rejects')) {
      fail(error, expected, message ?? `The rejection does not match ${util.inspect(expected)}`, 'rejects');
    }
    return;
  }
  fail(undefined, expected, message ?? 'Missing expected rejection.', 'rejects');
}

function doesNotThrow(fn, expected, message) {
  try {
    fn();
  } catch (error) {
    fail(error, expected, typeof expected === 'string' ? expected : message ?? `Got unwanted exception.\nActual message: "${error && error.message}"`, 'doesNotThrow');
  }
}

async function doesNotReject(promiseOrFn, expected, message) {
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (error) {
    fail(error, expected, typeof expected === 'string' ? expected : message ?? 'Got unwanted rejection.', 'doesNotReject');
  }
}

function make(strict) {
  const assert = function assert(value, message) {
    if (arguments.length === 0) ok();
    else ok(value, message);
  };
  const equal = strict
    ? (a, b, m) => Object.is(a, b) || fail(a, b, m, 'strictEqual')
    : (a, b, m) => a == b || (a !== a && b !== b) || fail(a, b, m, '=='); // eslint-disable-line eqeqeq
  const notEqual = strict
    ? (a, b, m) => !Object.is(a, b) || fail(a, b, m, 'notStrictEqual')
    : (a, b, m) => a != b || fail(a, b, m, '!='); // eslint-disable-line eqeqeq
  const deep = (a, b, m) => deepEqual(a, b, strict, []) || fail(a, b, m, strict ? 'deepStrictEqual' : 'deepEqual');
  const notDeep = (a, b, m) => !deepEqual(a, b, strict, []) || fail(a, b, m, strict ? 'notDeepStrictEqual' : 'notDeepEqual');
  Object.assign(assert, {
    ok,
    fail: (message) => fail(undefined, undefined, message ?? 'Failed', 'fail'),
    equal: (a, b, m) => { equal(a, b, m); },
    notEqual: (a, b, m) => { notEqual(a, b, m); },
    strictEqual: (a, b, m) => { Object.is(a, b) || fail(a, b, m, 'strictEqual'); },
    notStrictEqual: (a, b, m) => { !Object.is(a, b) || fail(a, b, m, 'notStrictEqual'); },
    deepEqual: (a, b, m) => { deep(a, b, m); },
    notDeepEqual: (a, b, m) => { notDeep(a, b, m); },
    deepStrictEqual: (a, b, m) => { deepEqual(a, b, true, []) || fail(a, b, m, 'deepStrictEqual'); },
    notDeepStrictEqual: (a, b, m) => { !deepEqual(a, b, true, []) || fail(a, b, m, 'notDeepStrictEqual'); },
    throws,
    rejects,
    doesNotThrow,
    doesNotReject,
    match: (s, re, m) => { re.test(s) || fail(s, re, m ?? `The input did not match the regular expression ${re}. Input:\n\n${util.inspect(s)}\n`, 'match'); },
    doesNotMatch: (s, re, m) => { !re.test(s) || fail(s, re, m ?? `The input was expected to not match the regular expression ${re}. Input:\n\n${util.inspect(s)}\n`, 'doesNotMatch'); },
    ifError: (value) => { if (value !== null && value !== undefined) throw value; },
    AssertionError,
  });
  return assert;
}

const assert = make(false);
assert.strict = make(true);
assert.strict.strict = assert.strict;
module.exports = assert;
