// node:util/types: the type checks of Node's util.types.
'use strict';
const tag = (value) => Object.prototype.toString.call(value).slice(8, -1);
const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);
const typedArrayTag = Object.getOwnPropertyDescriptor(TypedArrayProto, Symbol.toStringTag).get;
const typed = (name) => (value) => typedArrayTag.call(value) === name;

module.exports = {
  isArgumentsObject: (v) => typeof v === 'object' && v !== null && tag(v) === 'Arguments',
  isBigIntObject: (v) => typeof v === 'object' && v !== null && tag(v) === 'BigInt',
  isAnyArrayBuffer: (v) => tag(v) === 'ArrayBuffer' || tag(v) === 'SharedArrayBuffer',
  isArrayBuffer: (v) => tag(v) === 'ArrayBuffer',
  isArrayBufferView: (v) => ArrayBuffer.isView(v),
  isAsyncFunction: (v) => typeof v === 'function' && tag(v) === 'AsyncFunction' || tag(v) === 'AsyncGeneratorFunction',
  isBigInt64Array: typed('BigInt64Array'),
  isBigUint64Array: typed('BigUint64Array'),
  isBooleanObject: (v) => typeof v === 'object' && tag(v) === 'Boolean',
  isBoxedPrimitive: (v) => typeof v === 'object' && v !== null &&
    ['Boolean', 'Number', 'String', 'Symbol', 'BigInt'].includes(tag(v)),
  isDataView: (v) => tag(v) === 'DataView',
  isDate: (v) => v instanceof Date || tag(v) === 'Date',
  isExternal: () => false,
  isFloat32Array: typed('Float32Array'),
  isFloat64Array: typed('Float64Array'),
  isGeneratorFunction: (v) => typeof v === 'function' && (tag(v) === 'GeneratorFunction' || tag(v) === 'AsyncGeneratorFunction'),
  isGeneratorObject: (v) => tag(v) === 'Generator',
  isInt8Array: typed('Int8Array'),
  isInt16Array: typed('Int16Array'),
  isInt32Array: typed('Int32Array'),
  isMap: (v) => v instanceof Map || tag(v) === 'Map',
  isMapIterator: (v) => tag(v) === 'Map Iterator',
  isModuleNamespaceObject: (v) => tag(v) === 'Module',
  isNativeError: (v) => v instanceof Error || tag(v) === 'Error',
  isNumberObject: (v) => typeof v === 'object' && tag(v) === 'Number',
  isPromise: (v) => v instanceof Promise || tag(v) === 'Promise',
  isProxy: () => false,
  isRegExp: (v) => v instanceof RegExp || tag(v) === 'RegExp',
  isSet: (v) => v instanceof Set || tag(v) === 'Set',
  isSetIterator: (v) => tag(v) === 'Set Iterator',
  isSharedArrayBuffer: (v) => tag(v) === 'SharedArrayBuffer',
  isStringObject: (v) => typeof v === 'object' && tag(v) === 'String',
  isSymbolObject: (v) => typeof v === 'object' && tag(v) === 'Symbol',
  isTypedArray: (v) => typedArrayTag.call(v) !== undefined,
  isUint8Array: typed('Uint8Array'),
  isUint8ClampedArray: typed('Uint8ClampedArray'),
  isUint16Array: typed('Uint16Array'),
  isUint32Array: typed('Uint32Array'),
  isWeakMap: (v) => tag(v) === 'WeakMap',
  isWeakSet: (v) => tag(v) === 'WeakSet',
  isKeyObject: () => false,
  isCryptoKey: (v) => typeof CryptoKey === 'function' && v instanceof CryptoKey,
};
