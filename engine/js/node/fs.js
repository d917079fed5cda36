// node:fs, as Workers has it: a virtual file system in memory, the
// isolate's own. /bundle holds the script's modules as read-only files (the
// bytes copied in on first read), /tmp is writable, /dev has null, zero,
// full and random. Nothing reaches the host's file system: the only native
// is internals.bundleFile, which knows this script's modules and no other.
// Limits (hostile input): a file's bytes are Uint8Arrays in the isolate's
// heap (dispatch_memory_limit counts them), paths are at most 4096
// characters (a name 255), a /tmp holds at most 10000 entries, 1024
// descriptors may be open. Each request has its own /tmp, as on Workers.
// Watching, glob and statfs are not implemented: they throw.
'use strict';
const { Buffer } = require('node:buffer');
const unimplemented = require('node/unimplemented.js');

const MAX_PATH = 4096;
const MAX_NAME = 255;
const MAX_LINKS = 40;
const MAX_ENTRIES = 10000;
const MAX_FDS = 1024;

const constants = {
  UV_FS_SYMLINK_DIR: 1, UV_FS_SYMLINK_JUNCTION: 2, O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2,
  UV_DIRENT_UNKNOWN: 0, UV_DIRENT_FILE: 1, UV_DIRENT_DIR: 2, UV_DIRENT_LINK: 3, UV_DIRENT_FIFO: 4,
  UV_DIRENT_SOCKET: 5, UV_DIRENT_CHAR: 6, UV_DIRENT_BLOCK: 7,
  S_IFMT: 0o170000, S_IFREG: 0o100000, S_IFDIR: 0o40000, S_IFCHR: 0o20000, S_IFBLK: 0o60000,
  S_IFIFO: 0o10000, S_IFLNK: 0o120000, S_IFSOCK: 0o140000,
  O_CREAT: 0o100, O_EXCL: 0o200, UV_FS_O_FILEMAP: 0, O_NOCTTY: 0o400, O_TRUNC: 0o1000, O_APPEND: 0o2000,
  O_DIRECTORY: 0o200000, O_NOATIME: 0o1000000, O_NOFOLLOW: 0o400000, O_SYNC: 0o4010000, O_DSYNC: 0o10000,
  O_DIRECT: 0o40000, O_NONBLOCK: 0o4000,
  S_IRWXU: 0o700, S_IRUSR: 0o400, S_IWUSR: 0o200, S_IXUSR: 0o100, S_IRWXG: 0o70, S_IRGRP: 0o40,
  S_IWGRP: 0o20, S_IXGRP: 0o10, S_IRWXO: 0o7, S_IROTH: 0o4, S_IWOTH: 0o2, S_IXOTH: 0o1,
  F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1, UV_FS_COPYFILE_EXCL: 1, COPYFILE_EXCL: 1,
  UV_FS_COPYFILE_FICLONE: 2, COPYFILE_FICLONE: 2, UV_FS_COPYFILE_FICLONE_FORCE: 4, COPYFILE_FICLONE_FORCE: 4,
};

const ERRNO = {
  EPERM: [-1, 'operation not permitted'], ENOENT: [-2, 'no such file or directory'],
  EBADF: [-9, 'bad file descriptor'], EACCES: [-13, 'permission denied'], EEXIST: [-17, 'file already exists'],
  EXDEV: [-18, 'cross-device link not permitted'], ENOTDIR: [-20, 'not a directory'],
  EISDIR: [-21, 'illegal operation on a directory'], EINVAL: [-22, 'invalid argument'],
  EMFILE: [-24, 'too many open files'], ENOSPC: [-28, 'no space left on device'],
  ENAMETOOLONG: [-36, 'name too long'], ENOTEMPTY: [-39, 'directory not empty'],
  ELOOP: [-40, 'too many symbolic links encountered'],
};

function fsError(code, syscall, path, dest) {
  const [errno, text] = ERRNO[code];
  let message = `${code}: ${text}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  if (dest !== undefined) message += ` -> '${dest}'`;
  const error = new Error(message);
  error.errno = errno;
  error.code = code;
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  if (dest !== undefined) error.dest = dest;
  return error;
}

function invalidArg(name, message) {
  const error = new TypeError(`The "${name}" argument ${message}`);
  error.code = 'ERR_INVALID_ARG_TYPE';
  return error;
}

// The tree. A node: { kind: 'dir'|'file'|'dev', mode, ino, times, readOnly,
// entries (dir: Map), data + size (file), dev (dev: its name), target
// (kind 'link': the symbolic link's), home (in a
// /tmp: that /tmp, which counts its entries) }.
let nextIno = 1;
function newNode(kind, mode, readOnly) {
  const now = Date.now();
  return { kind, mode, ino: nextIno++, atimeMs: now, mtimeMs: now, ctimeMs: now, birthtimeMs: now,
    readOnly, nlink: 1, entries: kind === 'dir' ? new Map() : undefined, data: undefined, size: 0,
    dev: undefined, bundleName: undefined, home: undefined, count: 0, target: undefined };
}
const root = newNode('dir', 0o40555, true);
const dev = newNode('dir', 0o40555, true);
let bundle;  // built on first use
root.entries.set('dev', dev);

// /tmp: the request's own, as on Workers (the top level has one too, kept
// while the isolate lives), kept in the loader's object of that request,
// which goes once the request has ended.
function currentTmp() {
  const slot = internals.requestSlot();
  if (slot.tmp === undefined) {
    slot.tmp = newNode('dir', 0o41777, false);
    slot.tmp.home = slot.tmp;
  }
  return slot.tmp;
}
for (const name of ['null', 'zero', 'full', 'random']) {
  const node = newNode('dev', 0o20666, false);
  node.dev = name;
  dev.entries.set(name, node);
}

function bundleDir() {
  if (bundle !== undefined) return bundle;
  bundle = newNode('dir', 0o40555, true);
  for (const name of internals.bundleNames()) {
    const parts = name.split('/').filter((part) => part !== '' && part !== '.' && part !== '..');
    let dir = bundle;
    for (let i = 0; dir !== undefined && i < parts.length - 1; i++) {
      let next = dir.entries.get(parts[i]);
      if (next === undefined) {
        next = newNode('dir', 0o40555, true);
        dir.entries.set(parts[i], next);
      }
      dir = next.kind === 'dir' ? next : undefined;  // "a" and "a/b": the first wins
    }
    if (dir !== undefined && parts.length > 0 && !dir.entries.has(parts[parts.length - 1])) {
      const file = newNode('file', 0o100444, true);
      file.bundleName = name;
      dir.entries.set(parts[parts.length - 1], file);
    }
  }
  return bundle;
}

// A bundle file's bytes, copied in on first read.
function bytesOfNode(node) {
  if (node.bundleName !== undefined && node.data === undefined) {
    const bytes = internals.bundleFile(node.bundleName);
    node.data = bytes === undefined ? new Uint8Array(0) : bytes;
    node.size = node.data.length;
  }
  return node.data === undefined ? new Uint8Array(0) : node.data.subarray(0, node.size);
}

function sizeOf(node) {
  if (node.bundleName !== undefined) bytesOfNode(node);
  return node.kind === 'dir' ? 4096 : node.size;
}

function pathString(path, name = 'path') {
  if (typeof path === 'string') {
    // fall through
  } else if (path instanceof Uint8Array) {
    path = Buffer.from(path.buffer, path.byteOffset, path.byteLength).toString('utf8');
  } else if (path !== null && typeof path === 'object' && typeof path.href === 'string' && path.protocol === 'file:') {
    path = decodeURIComponent(path.pathname);
  } else {
    throw invalidArg(name, `must be of type string or an instance of Buffer or URL. Received ${path === null ? 'null' : typeof path}`);
  }
  if (path.indexOf('\u0000') !== -1) {
    const error = new TypeError(`The argument '${name}' must be a string, Uint8Array, or URL without null bytes.`);
    error.code = 'ERR_INVALID_ARG_VALUE';
    throw error;
  }
  return path;
}

// The path's parts from the root ("a/../b" as "b"); a relative path is
// from process.cwd(), /bundle, as on Workers.
function partsOf(path, syscall) {
  if (path.length > MAX_PATH) throw fsError('ENAMETOOLONG', syscall, path);
  const parts = path[0] === '/' ? [] : ['bundle'];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part.length > MAX_NAME) throw fsError('ENAMETOOLONG', syscall, path);
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts;
}

function childOf(dir, name) {
  if (dir === root && name === 'bundle') return bundleDir();
  if (dir === root && name === 'tmp') return currentTmp();
  return dir.entries.get(name);
}

// { node, parent, name, parts }: node undefined when the last part does
// not exist (its parent does); parts, the path resolved. Symbolic links on
// the way are followed, the last one too unless follow is false; at most
// MAX_LINKS of them (ELOOP).
function lookup(path, syscall, follow = true) {
  let parts = partsOf(path, syscall);
  for (let links = 0; ; links++) {
    if (links > MAX_LINKS) throw fsError('ELOOP', syscall, path);
    let dir = root;
    let i = 0;
    for (; i < parts.length; i++) {
      const last = i === parts.length - 1;
      const next = childOf(dir, parts[i]);
      if (next === undefined) {
        if (last) return { node: undefined, parent: dir, name: parts[i], parts };
        throw fsError('ENOENT', syscall, path);
      }
      if (next.kind === 'link' && (follow || !last)) break;
      if (last) return { node: next, parent: dir, name: parts[i], parts };
      if (next.kind !== 'dir') throw fsError('ENOTDIR', syscall, path);
      dir = next;
    }
    if (parts.length === 0) return { node: root, parent: undefined, name: '', parts };
    // parts[i] is a link: its target (from the link's directory) and the rest.
    const target = childOf(dir, parts[i]).target;
    const from = target[0] === '/' ? target : `/${parts.slice(0, i).join('/')}/${target}`;
    parts = partsOf(`${from}/${parts.slice(i + 1).join('/')}`, syscall);
  }
}

function existing(path, syscall, follow = true) {
  const found = lookup(path, syscall, follow);
  if (found.node === undefined) throw fsError('ENOENT', syscall, path);
  return found.node;
}

function writableDir(parent, path, syscall) {
  if (parent === undefined || parent.readOnly) throw fsError('EPERM', syscall, path);
}

function addEntry(parent, name, node, path, syscall) {
  const home = parent.home;
  if (home.count >= MAX_ENTRIES) throw fsError('ENOSPC', syscall, path);
  home.count++;
  node.home = home;
  parent.entries.set(name, node);
  parent.mtimeMs = parent.ctimeMs = Date.now();
}

function dropEntry(parent, name) {
  const node = parent.entries.get(name);
  parent.entries.delete(name);
  parent.home.count--;
  node.nlink--;
  parent.mtimeMs = parent.ctimeMs = Date.now();
}

// Stats, as Node's.
class Stats {
  constructor(node) {
    const kind = node.kind;
    this.dev = kind === 'dev' ? 1 : 0;
    this.mode = node.mode;
    this.nlink = node.nlink;
    this.uid = 0;
    this.gid = 0;
    this.rdev = 0;
    this.blksize = 4096;
    this.ino = node.ino;
    this.size = sizeOf(node);
    this.blocks = Math.ceil(this.size / 512);
    this.atimeMs = node.atimeMs;
    this.mtimeMs = node.mtimeMs;
    this.ctimeMs = node.ctimeMs;
    this.birthtimeMs = node.birthtimeMs;
    this.atime = new Date(node.atimeMs);
    this.mtime = new Date(node.mtimeMs);
    this.ctime = new Date(node.ctimeMs);
    this.birthtime = new Date(node.birthtimeMs);
  }
  isFile() { return (this.mode & constants.S_IFMT) === constants.S_IFREG; }
  isDirectory() { return (this.mode & constants.S_IFMT) === constants.S_IFDIR; }
  isCharacterDevice() { return (this.mode & constants.S_IFMT) === constants.S_IFCHR; }
  isSymbolicLink() { return (this.mode & constants.S_IFMT) === constants.S_IFLNK; }
  isBlockDevice() { return false; }
  isFIFO() { return false; }
  isSocket() { return false; }
}

class Dirent {
  constructor(name, node, parentPath) {
    this.name = name;
    this.parentPath = parentPath;
    this.path = parentPath;
    this._kind = node.kind;
  }
  isFile() { return this._kind === 'file'; }
  isDirectory() { return this._kind === 'dir'; }
  isCharacterDevice() { return this._kind === 'dev'; }
  isSymbolicLink() { return this._kind === 'link'; }
  isBlockDevice() { return false; }
  isFIFO() { return false; }
  isSocket() { return false; }
}

function encodingOf(options) {
  if (typeof options === 'string') return options;
  if (options !== null && typeof options === 'object' && typeof options.encoding === 'string') return options.encoding;
  return undefined;
}

function toBytes(data, encoding) {
  if (typeof data === 'string') return Buffer.from(data, encoding || 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw invalidArg('data', 'must be of type string or an instance of Buffer, TypedArray, or DataView');
}

// Room for `size` bytes in a file's buffer (doubling, as a vector grows).
function reserve(node, size) {
  const have = node.data === undefined ? 0 : node.data.length;
  if (size <= have) return;
  const grown = new Uint8Array(Math.max(size, Math.min(have * 2, size + 64 * 1024 * 1024), 256));
  if (node.data !== undefined) grown.set(node.data.subarray(0, node.size));
  node.data = grown;
}

function writeAt(node, bytes, position) {
  if (node.kind === 'dev') {
    if (node.dev === 'full') throw fsError('ENOSPC', 'write');
    return bytes.length;
  }
  const end = position + bytes.length;
  if (end === position) return 0;
  reserve(node, end);
  if (position > node.size) node.data.fill(0, node.size, position);
  node.data.set(bytes, position);
  if (end > node.size) node.size = end;
  node.mtimeMs = node.ctimeMs = Date.now();
  return bytes.length;
}

function readAt(node, target, offset, length, position) {
  if (node.kind === 'dev') {
    if (node.dev === 'null') return 0;
    const view = target.subarray(offset, offset + length);
    if (node.dev === 'random') {
      for (let at = 0; at < view.length; at += 65536) crypto.getRandomValues(view.subarray(at, at + 65536));
    } else {
      view.fill(0);
    }
    return view.length;
  }
  const data = bytesOfNode(node);
  if (position >= data.length) return 0;
  const piece = data.subarray(position, Math.min(data.length, position + length));
  target.set(piece, offset);
  return piece.length;
}

function truncateNode(node, length) {
  length = Math.max(0, integer(length, 'len'));
  if (node.kind !== 'file') return;
  if (length < node.size) node.size = length;
  else if (length > node.size) writeAt(node, new Uint8Array(length - node.size), node.size);
  node.mtimeMs = node.ctimeMs = Date.now();
}

// Opening: the node, made when the flags say so.
const FLAGS = {
  r: constants.O_RDONLY, rs: constants.O_RDONLY, sr: constants.O_RDONLY,
  'r+': constants.O_RDWR, 'rs+': constants.O_RDWR, 'sr+': constants.O_RDWR,
  w: constants.O_TRUNC | constants.O_CREAT | constants.O_WRONLY,
  wx: constants.O_TRUNC | constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL,
  xw: constants.O_TRUNC | constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL,
  'w+': constants.O_TRUNC | constants.O_CREAT | constants.O_RDWR,
  'wx+': constants.O_TRUNC | constants.O_CREAT | constants.O_RDWR | constants.O_EXCL,
  'xw+': constants.O_TRUNC | constants.O_CREAT | constants.O_RDWR | constants.O_EXCL,
  a: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY,
  ax: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL,
  xa: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL,
  as: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY,
  sa: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY,
  'a+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR,
  'ax+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR | constants.O_EXCL,
  'xa+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR | constants.O_EXCL,
  'as+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR,
  'sa+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR,
};

function flagsOf(flags, fallback) {
  if (flags === undefined || flags === null) return FLAGS[fallback];
  if (typeof flags === 'number') return flags;
  const bits = FLAGS[flags];
  if (bits === undefined) {
    const error = new TypeError(`The argument 'flags' is invalid. Received '${flags}'`);
    error.code = 'ERR_INVALID_ARG_VALUE';
    throw error;
  }
  return bits;
}

function openNode(path, bits, mode, syscall = 'open') {
  const found = lookup(path, syscall);
  let node = found.node;
  const access = bits & 3;
  if (node === undefined) {
    if (!(bits & constants.O_CREAT)) throw fsError('ENOENT', syscall, path);
    writableDir(found.parent, path, syscall);
    node = newNode('file', constants.S_IFREG | ((mode ?? 0o666) & 0o7777), false);
    addEntry(found.parent, found.name, node, path, syscall);
    return node;
  }
  if ((bits & constants.O_CREAT) && (bits & constants.O_EXCL)) throw fsError('EEXIST', syscall, path);
  if (node.kind === 'dir' && access !== constants.O_RDONLY) throw fsError('EISDIR', syscall, path);
  if ((bits & constants.O_DIRECTORY) && node.kind !== 'dir') throw fsError('ENOTDIR', syscall, path);
  if (node.readOnly && (access !== constants.O_RDONLY || (bits & constants.O_TRUNC))) {
    throw fsError(node.kind === 'dir' ? 'EISDIR' : 'EPERM', syscall, path);
  }
  if (bits & constants.O_TRUNC && node.kind === 'file') truncateNode(node, 0);
  return node;
}

// File descriptors.
// File descriptors: the request's own, as its /tmp (an fd of another
// request is EBADF; they go with the request).
function fdTable() {
  const slot = internals.requestSlot();
  if (slot.fds === undefined) {
    slot.fds = new Map();
    slot.nextFd = 3;
  }
  return slot;
}
const isOpen = (fd) => fdTable().fds.has(fd);
function openSync(path, flags, mode) {
  path = pathString(path);
  const bits = flagsOf(flags, 'r');
  const table = fdTable();
  const fds = table.fds;
  if (fds.size >= MAX_FDS) throw fsError('EMFILE', 'open', path);
  const node = openNode(path, bits, mode);
  while (fds.has(table.nextFd)) table.nextFd = table.nextFd >= 0x3fffffff ? 3 : table.nextFd + 1;
  const fd = table.nextFd++;
  const access = bits & 3;
  fds.set(fd, { node, path, position: 0, append: (bits & constants.O_APPEND) !== 0,
    readable: access !== constants.O_WRONLY, writable: access !== constants.O_RDONLY });
  return fd;
}

function descriptor(fd, syscall) {
  if (typeof fd !== 'number' || !Number.isInteger(fd)) throw invalidArg('fd', `must be of type number. Received ${typeof fd}`);
  const open = fdTable().fds.get(fd);
  if (open === undefined) throw fsError('EBADF', syscall);
  return open;
}

function closeSync(fd) {
  descriptor(fd, 'close');
  fdTable().fds.delete(fd);
}

// A position, offset or length as Node takes it: a safe integer (or bigint).
function integer(value, name) {
  if (typeof value === 'bigint') value = Number(value);
  if (!Number.isSafeInteger(value)) {
    const error = new RangeError(`The value of "${name}" is out of range. It must be an integer. Received ${value}`);
    error.code = 'ERR_OUT_OF_RANGE';
    throw error;
  }
  return value;
}

// An explicit position (a number or bigint, not negative), or undefined:
// the descriptor's own.
function positionOf(position) {
  if (position === null || position === undefined) return undefined;
  if (typeof position === 'number' && position === -1) return undefined;
  const at = integer(position, 'position');
  return at < 0 ? undefined : at;
}

// readSync's and writeSync's offset and length into bytes, as Node checks them.
function bufferRange(bytes, offset, length) {
  offset = integer(offset ?? 0, 'offset');
  length = integer(length ?? bytes.length - offset, 'length');
  if (offset < 0 || length < 0 || offset + length > bytes.length) {
    const error = new RangeError('The value of "length" is out of range.');
    error.code = 'ERR_OUT_OF_RANGE';
    throw error;
  }
  return { offset, length };
}

function readSync(fd, buffer, offsetOrOptions, length, position) {
  const open = descriptor(fd, 'read');
  if (!ArrayBuffer.isView(buffer)) throw invalidArg('buffer', 'must be an instance of Buffer, TypedArray, or DataView');
  let offset = offsetOrOptions;
  if (offset !== null && typeof offset === 'object') ({ offset, length, position } = offset);
  const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  ({ offset, length } = bufferRange(bytes, offset, length));
  if (!open.readable) throw fsError('EBADF', 'read');
  if (open.node.kind === 'dir') throw fsError('EISDIR', 'read');
  const explicit = positionOf(position);
  const read = readAt(open.node, bytes, offset, length, explicit ?? open.position);
  if (explicit === undefined) open.position += read;
  open.node.atimeMs = Date.now();
  return read;
}

function writeSync(fd, data, offsetOrPosition, lengthOrEncoding, position) {
  const open = descriptor(fd, 'write');
  let bytes;
  if (typeof data === 'string') {
    bytes = Buffer.from(data, typeof lengthOrEncoding === 'string' ? lengthOrEncoding : 'utf8');
    position = offsetOrPosition;
  } else {
    bytes = toBytes(data);
    let offset = offsetOrPosition;
    let length = lengthOrEncoding;
    if (offset !== null && typeof offset === 'object') ({ offset, length, position } = offset);
    ({ offset, length } = bufferRange(bytes, offset, length));
    bytes = bytes.subarray(offset, offset + length);
  }
  if (!open.writable) throw fsError('EBADF', 'write');
  const explicit = positionOf(position);
  const at = open.append ? sizeOf(open.node) : explicit ?? open.position;
  const written = writeAt(open.node, bytes, at);
  if (explicit === undefined || open.append) open.position = at + written;
  return written;
}

function fstatSync(fd) {
  return new Stats(descriptor(fd, 'fstat').node);
}

function ftruncateSync(fd, length = 0) {
  const open = descriptor(fd, 'ftruncate');
  if (!open.writable || open.node.readOnly) throw fsError('EINVAL', 'ftruncate');
  truncateNode(open.node, length);
}

function readFileSync(path, options) {
  const encoding = encodingOf(options);
  let node;
  if (typeof path === 'number') {
    node = descriptor(path, 'read').node;
  } else {
    path = pathString(path);
    node = existing(path, 'open');
    if (node.kind === 'dir') throw fsError('EISDIR', 'read');
  }
  let bytes;
  if (node.kind === 'dev') bytes = new Uint8Array(0);  // reading /dev/zero to its end never ends: none
  else bytes = bytesOfNode(node);
  node.atimeMs = Date.now();
  const buffer = Buffer.from(bytes);  // a copy: the file may change after
  return encoding === undefined || encoding === 'buffer' ? buffer : buffer.toString(encoding);
}

function writeFileSync(path, data, options) {
  const encoding = encodingOf(options);
  const flag = options !== null && typeof options === 'object' && options.flag !== undefined ? options.flag : 'w';
  const bytes = toBytes(data, encoding);
  if (typeof path === 'number') {
    writeSync(path, bytes);
    return;
  }
  const fd = openSync(path, flag, options !== null && typeof options === 'object' ? options.mode : undefined);
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

function appendFileSync(path, data, options) {
  const flag = options !== null && typeof options === 'object' && options.flag !== undefined ? options.flag : 'a';
  const encoding = encodingOf(options);
  writeFileSync(path, data, { encoding, flag, mode: options !== null && typeof options === 'object' ? options.mode : undefined });
}

function existsSync(path) {
  try {
    return lookup(pathString(path), 'access').node !== undefined;
  } catch {
    return false;
  }
}

function accessSync(path, mode = constants.F_OK) {
  path = pathString(path);
  const node = existing(path, 'access');
  if ((mode & constants.W_OK) && node.readOnly) throw fsError('EACCES', 'access', path);
  if ((mode & constants.X_OK) && node.kind !== 'dir') throw fsError('EACCES', 'access', path);
}

function statOf(path, options, syscall) {
  let node;
  try {
    node = existing(pathString(path), syscall, syscall === 'stat');
  } catch (error) {
    if (options && options.throwIfNoEntry === false && (error.code === 'ENOENT' || error.code === 'ENOTDIR')) return undefined;
    throw error;
  }
  return new Stats(node);
}
const statSync = (path, options) => statOf(path, options, 'stat');
const lstatSync = (path, options) => statOf(path, options, 'lstat');

function readdirSync(path, options) {
  path = pathString(path);
  const node = existing(path, 'scandir');
  if (node.kind !== 'dir') throw fsError('ENOTDIR', 'scandir', path);
  const withFileTypes = options !== null && typeof options === 'object' && options.withFileTypes === true;
  const recursive = options !== null && typeof options === 'object' && options.recursive === true;
  const encoding = encodingOf(options);
  const out = [];
  const walk = (dir, dirPath, prefix) => {
    const names = [...(dir === root ? ['bundle', 'tmp', ...dir.entries.keys()] : dir.entries.keys())].sort();
    for (const name of names) {
      const child = childOf(dir, name);
      if (withFileTypes) out.push(new Dirent(name, child, dirPath));
      else out.push(encoding === 'buffer' ? Buffer.from(prefix + name) : prefix + name);
      if (recursive && child.kind === 'dir') {
        walk(child, `${dirPath === '/' ? '' : dirPath}/${name}`, `${prefix}${name}/`);
      }
    }
  };
  walk(node, path, '');
  return out;
}

function mkdirSync(path, options) {
  path = pathString(path);
  const recursive = options !== null && typeof options === 'object' && options.recursive === true;
  const mode = typeof options === 'number' ? options : options && options.mode;
  const permissions = constants.S_IFDIR | ((mode ?? 0o777) & 0o7777);
  if (!recursive) {
    const found = lookup(path, 'mkdir', false);
    if (found.node !== undefined) throw fsError('EEXIST', 'mkdir', path);
    writableDir(found.parent, path, 'mkdir');
    addEntry(found.parent, found.name, newNode('dir', permissions, false), path, 'mkdir');
    return undefined;
  }
  const parts = partsOf(path, 'mkdir');
  let dir = root;
  let first;
  let sofar = '';
  for (const part of parts) {
    sofar += `/${part}`;
    let next = childOf(dir, part);
    if (next === undefined) {
      writableDir(dir, path, 'mkdir');
      next = newNode('dir', permissions, false);
      addEntry(dir, part, next, path, 'mkdir');
      if (first === undefined) first = sofar;
    } else if (next.kind !== 'dir') {
      throw fsError(first === undefined && sofar.length < path.length ? 'ENOTDIR' : 'EEXIST', 'mkdir', path);
    }
    dir = next;
  }
  return first;
}

function mkdtempSync(prefix) {
  prefix = pathString(prefix, 'prefix');
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  for (;;) {
    const random = crypto.getRandomValues(new Uint8Array(6));
    let path = prefix;
    for (const byte of random) path += letters[byte % letters.length];
    if (!existsSync(path)) {
      mkdirSync(path);
      return path;
    }
  }
}

function unlinkSync(path) {
  path = pathString(path);
  const found = lookup(path, 'unlink', false);
  if (found.node === undefined) throw fsError('ENOENT', 'unlink', path);
  if (found.node.kind === 'dir') throw fsError('EISDIR', 'unlink', path);
  writableDir(found.parent, path, 'unlink');
  dropEntry(found.parent, found.name);
}

function rmdirSync(path, options) {
  path = pathString(path);
  if (options && options.recursive) {
    rmSync(path, { recursive: true });
    return;
  }
  const found = lookup(path, 'rmdir', false);
  if (found.node === undefined) throw fsError('ENOENT', 'rmdir', path);
  if (found.node.kind !== 'dir') throw fsError('ENOTDIR', 'rmdir', path);
  if (found.node.entries.size > 0) throw fsError('ENOTEMPTY', 'rmdir', path);
  writableDir(found.parent, path, 'rmdir');
  dropEntry(found.parent, found.name);
}

function countEntries(dir) {
  let count = 0;
  for (const child of dir.entries.values()) count += 1 + (child.kind === 'dir' ? countEntries(child) : 0);
  return count;
}

function rmSync(path, options) {
  path = pathString(path);
  const found = lookup(path, 'rm', false);
  if (found.node === undefined) {
    if (options && options.force) return;
    throw fsError('ENOENT', 'rm', path);
  }
  if (found.node.kind === 'dir' && !(options && options.recursive)) {
    const error = new Error(`Path is a directory: rm returned EISDIR (is a directory) ${path}`);
    error.code = 'ERR_FS_EISDIR';
    error.errno = 21;
    error.syscall = 'rm';
    error.path = path;
    throw error;
  }
  writableDir(found.parent, path, 'rm');
  if (found.node.kind === 'dir') found.parent.home.count -= countEntries(found.node);
  dropEntry(found.parent, found.name);
}

function isInside(node, dir) {
  if (node === dir) return true;
  if (dir.kind !== 'dir') return false;
  for (const child of dir.entries.values()) if (isInside(node, child)) return true;
  return false;
}

function renameSync(from, to) {
  from = pathString(from, 'oldPath');
  to = pathString(to, 'newPath');
  const source = lookup(from, 'rename', false);
  if (source.node === undefined) throw fsError('ENOENT', 'rename', from, to);
  const target = lookup(to, 'rename', false);
  if (source.node === target.node) return;
  if (source.parent === undefined || source.parent.readOnly || target.parent === undefined || target.parent.readOnly) {
    throw fsError('EPERM', 'rename', from, to);
  }
  if (source.node.kind === 'dir' && isInside(target.parent, source.node)) throw fsError('EINVAL', 'rename', from, to);
  if (target.node !== undefined) {
    if (target.node.kind === 'dir' && source.node.kind !== 'dir') throw fsError('EISDIR', 'rename', from, to);
    if (target.node.kind !== 'dir' && source.node.kind === 'dir') throw fsError('ENOTDIR', 'rename', from, to);
    if (target.node.kind === 'dir' && target.node.entries.size > 0) throw fsError('ENOTEMPTY', 'rename', from, to);
    dropEntry(target.parent, target.name);
  }
  const node = source.node;
  source.parent.entries.delete(source.name);
  target.parent.entries.set(target.name, node);
  source.parent.mtimeMs = target.parent.mtimeMs = node.ctimeMs = Date.now();
}

function copyFileSync(from, to, mode = 0) {
  from = pathString(from, 'src');
  to = pathString(to, 'dest');
  const source = existing(from, 'copyfile');
  if (source.kind === 'dir') throw fsError('EISDIR', 'copyfile', from, to);
  const bytes = source.kind === 'dev' ? new Uint8Array(0) : bytesOfNode(source);
  let node;
  try {
    node = openNode(to, (mode & constants.COPYFILE_EXCL) ? FLAGS.wx : FLAGS.w, 0o666, 'copyfile');
  } catch (error) {
    throw fsError(error.code, 'copyfile', from, to);
  }
  if (node !== source) writeAt(node, bytes.slice(), 0);
}

function cpSync(from, to, options) {
  from = pathString(from, 'src');
  to = pathString(to, 'dest');
  const source = existing(from, 'cp');
  if (source.kind !== 'dir') {
    copyFileSync(from, to, options && options.errorOnExist && !options.force ? constants.COPYFILE_EXCL : 0);
    return;
  }
  if (!(options && options.recursive)) {
    const error = new Error(`Recursive option is required to copy a directory: cp returned EISDIR (${from} is a directory (not copied)) ${from}`);
    error.code = 'ERR_FS_EISDIR';
    throw error;
  }
  const src = `/${partsOf(from, 'cp').join('/')}/`;
  if (`/${partsOf(to, 'cp').join('/')}/`.startsWith(src)) {
    const error = new Error(`Invalid src or dest: cp returned EINVAL (cannot copy ${from} to a subdirectory of self ${to}) ${to}`);
    error.code = 'ERR_FS_CP_EINVAL';
    throw error;
  }
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) cpSync(`${from}/${name}`, `${to}/${name}`, options);
}

function realpathSync(path) {
  path = pathString(path);
  const found = lookup(path, 'realpath');
  if (found.node === undefined) throw fsError('ENOENT', 'realpath', path);
  return `/${found.parts.join('/')}`;
}
realpathSync.native = realpathSync;

function truncateSync(path, length = 0) {
  if (typeof path === 'number') {
    ftruncateSync(path, length);
    return;
  }
  path = pathString(path);
  const node = existing(path, 'open');
  if (node.kind === 'dir') throw fsError('EISDIR', 'open', path);
  if (node.readOnly) throw fsError('EPERM', 'open', path);
  truncateNode(node, length);
}

function chmodSync(path, mode) {
  path = pathString(path);
  const node = existing(path, 'chmod');
  if (node.readOnly) throw fsError('EPERM', 'chmod', path);
  node.mode = (node.mode & constants.S_IFMT) | (Number(mode) & 0o7777);
  node.ctimeMs = Date.now();
}

function chownSync(path) {
  path = pathString(path);
  const node = existing(path, 'chown');
  if (node.readOnly) throw fsError('EPERM', 'chown', path);
}

function timeOf(time) {
  if (time instanceof Date) return time.getTime();
  if (typeof time === 'string') return Number(time) * 1000;
  return Number(time) * 1000;
}

function utimesSync(path, atime, mtime) {
  path = pathString(path);
  const node = existing(path, 'utime');
  if (node.readOnly) throw fsError('EPERM', 'utime', path);
  node.atimeMs = timeOf(atime);
  node.mtimeMs = timeOf(mtime);
}

function linkSync(existingPath, newPath) {
  existingPath = pathString(existingPath, 'existingPath');
  newPath = pathString(newPath, 'newPath');
  const node = existing(existingPath, 'link');
  if (node.kind === 'dir') throw fsError('EPERM', 'link', existingPath, newPath);
  const target = lookup(newPath, 'link', false);
  if (target.node !== undefined) throw fsError('EEXIST', 'link', existingPath, newPath);
  if (node.readOnly || target.parent.readOnly) throw fsError('EPERM', 'link', existingPath, newPath);
  addEntry(target.parent, target.name, node, newPath, 'link');
  node.nlink++;
}

function readlinkSync(path, options) {
  path = pathString(path);
  const node = existing(path, 'readlink', false);
  if (node.kind !== 'link') throw fsError('EINVAL', 'readlink', path);
  return encodingOf(options) === 'buffer' ? Buffer.from(node.target) : node.target;
}

function symlinkSync(target, path) {
  target = pathString(target, 'target');
  path = pathString(path);
  if (target.length > MAX_PATH) throw fsError('ENAMETOOLONG', 'symlink', target, path);
  const found = lookup(path, 'symlink', false);
  if (found.node !== undefined) throw fsError('EEXIST', 'symlink', target, path);
  writableDir(found.parent, path, 'symlink');
  const link = newNode('link', constants.S_IFLNK | 0o777, false);
  link.target = target;
  link.size = target.length;
  addEntry(found.parent, found.name, link, path, 'symlink');
}

function readvSync(fd, buffers, position) {
  let total = 0;
  for (const buffer of buffers) {
    const read = readSync(fd, buffer, 0, buffer.byteLength, typeof position === 'number' ? position + total : null);
    total += read;
    if (read < buffer.byteLength) break;
  }
  return total;
}

function writevSync(fd, buffers, position) {
  let total = 0;
  for (const buffer of buffers) {
    total += writeSync(fd, buffer, 0, buffer.byteLength, typeof position === 'number' ? position + total : null);
  }
  return total;
}

// opendir's Dir: the directory's entries as they were when it was opened.
class Dir {
  constructor(path, entries) {
    this.path = path;
    this._entries = entries;
    this._closed = false;
  }
  readSync() {
    if (this._closed) {
      const error = new Error('Directory handle was closed');
      error.code = 'ERR_DIR_CLOSED';
      throw error;
    }
    return this._entries.length > 0 ? this._entries.shift() : null;
  }
  read(callback) {
    const result = new Promise((resolve) => { resolve(this.readSync()); });
    if (typeof callback !== 'function') return result;
    result.then((entry) => callback(null, entry), callback);
    return undefined;
  }
  closeSync() {
    this.readSync();
    this._closed = true;
  }
  close(callback) {
    const result = new Promise((resolve) => { resolve(this.closeSync()); });
    if (typeof callback !== 'function') return result;
    result.then(() => callback(null), callback);
    return undefined;
  }
  async* entries() {
    try {
      for (let entry = this.readSync(); entry !== null; entry = this.readSync()) yield entry;
    } finally {
      if (!this._closed) this.closeSync();
    }
  }
  [Symbol.asyncIterator]() { return this.entries(); }
}

function opendirSync(path) {
  path = pathString(path);
  return new Dir(path, readdirSync(path, { withFileTypes: true }));
}

const noop = (fd) => { descriptor(fd, 'fsync'); };

const sync = {
  accessSync, appendFileSync, chmodSync, chownSync, closeSync, copyFileSync, cpSync, existsSync,
  fchmodSync: (fd, mode) => chmodSync(descriptor(fd, 'fchmod').path, mode),
  fchownSync: (fd) => { descriptor(fd, 'fchown'); },
  fdatasyncSync: noop, fstatSync, fsyncSync: noop, ftruncateSync,
  futimesSync: (fd, atime, mtime) => utimesSync(descriptor(fd, 'futime').path, atime, mtime),
  lchmodSync: chmodSync, lchownSync: chownSync, linkSync, lstatSync, lutimesSync: utimesSync, mkdirSync,
  mkdtempSync, opendirSync, openSync, readdirSync, symlinkSync, readFileSync, readlinkSync, readSync, readvSync, realpathSync,
  renameSync, rmdirSync, rmSync, statSync, truncateSync, unlinkSync, utimesSync, writeFileSync,
  writeSync, writevSync,
};

// The callback forms: the same work, the callback called in a later task
// (as Node calls it after the event loop turns).
const callbacks = {};
for (const name of Object.keys(sync)) {
  const base = name.slice(0, -4);
  if (base === 'exists') continue;
  callbacks[base] = function (...args) {
    const callback = args.pop();
    if (typeof callback !== 'function') {
      const error = new TypeError(`The "cb" argument must be of type function. Received ${typeof callback}`);
      error.code = 'ERR_INVALID_ARG_TYPE';
      throw error;
    }
    let result;
    let failure = null;
    try {
      result = sync[name](...args);
    } catch (error) {
      failure = error;
    }
    queueMicrotask(() => {
      if (failure !== null) callback(failure);
      else if (base === 'read' || base === 'write') callback(null, result, args[1]);
      else callback(null, result);
    });
  };
  Object.defineProperty(callbacks[base], 'name', { value: base });
}
callbacks.realpath.native = callbacks.realpath;
function exists(path, callback) {
  const result = existsSync(path);
  queueMicrotask(() => callback(result));
}

// fs.promises' FileHandle.
class FileHandle {
  constructor(fd) { this.fd = fd; }
  async close() { closeSync(this.fd); }
  async stat() { return fstatSync(this.fd); }
  async truncate(length) { ftruncateSync(this.fd, length); }
  async sync() { noop(this.fd); }
  async datasync() { noop(this.fd); }
  async chmod(mode) { sync.fchmodSync(this.fd, mode); }
  async chown() {}
  async utimes(atime, mtime) { sync.futimesSync(this.fd, atime, mtime); }
  async read(buffer, offset, length, position) {
    if (buffer === undefined || (buffer !== null && !ArrayBuffer.isView(buffer) && typeof buffer === 'object')) {
      const options = buffer || {};
      buffer = options.buffer || Buffer.alloc(16384);
      ({ offset, length, position } = options);
    }
    const bytesRead = readSync(this.fd, buffer, offset, length, position);
    return { bytesRead, buffer };
  }
  async write(data, ...rest) {
    const bytesWritten = writeSync(this.fd, data, ...rest);
    return { bytesWritten, buffer: data };
  }
  async readv(buffers, position) { return { bytesRead: readvSync(this.fd, buffers, position), buffers }; }
  async writev(buffers, position) { return { bytesWritten: writevSync(this.fd, buffers, position), buffers }; }
  async readFile(options) {
    const open = descriptor(this.fd, 'read');
    const bytes = open.node.kind === 'file' ? bytesOfNode(open.node).subarray(open.position) : new Uint8Array(0);
    open.position += bytes.length;
    const buffer = Buffer.from(bytes);
    const encoding = encodingOf(options);
    return encoding === undefined ? buffer : buffer.toString(encoding);
  }
  async writeFile(data, options) { writeSync(this.fd, toBytes(data, encodingOf(options))); }
  async appendFile(data, options) { writeSync(this.fd, toBytes(data, encodingOf(options))); }
  readableWebStream() {
    const handle = this;
    return new ReadableStream({
      async pull(controller) {
        const { bytesRead, buffer } = await handle.read(new Uint8Array(65536), 0, 65536, null);
        if (bytesRead === 0) controller.close();
        else controller.enqueue(buffer.subarray(0, bytesRead));
      },
    });
  }
  createReadStream(options) { return createReadStream(null, { ...options, fd: this.fd }); }
  createWriteStream(options) { return createWriteStream(null, { ...options, fd: this.fd }); }
}
if (typeof Symbol.asyncDispose === 'symbol') {
  FileHandle.prototype[Symbol.asyncDispose] = async function dispose() { if (isOpen(this.fd)) closeSync(this.fd); };
}

const promises = {};
for (const name of Object.keys(sync)) {
  const base = name.slice(0, -4);
  if (base === 'exists' || base === 'close' || base[0] === 'f' && base !== 'fstat' || base === 'fstat' ||
      base === 'read' || base === 'write' || base === 'readv' || base === 'writev' || base === 'open') continue;
  promises[base] = async (...args) => sync[name](...args);
  Object.defineProperty(promises[base], 'name', { value: base });
}
// openAsBlob(path): a Blob of the file's bytes as they are now.
async function openAsBlob(path, options) {
  return new Blob([readFileSync(path)], { type: options && options.type !== undefined ? String(options.type) : '' });
}
promises.open = async (path, flags, mode) => new FileHandle(openSync(path, flags, mode));
promises.readFile = async (path, options) => (path instanceof FileHandle ? path.readFile(options) : readFileSync(path, options));
promises.writeFile = async (path, data, options) => {
  if (path instanceof FileHandle) return path.writeFile(data, options);
  if (data !== null && typeof data === 'object' && !ArrayBuffer.isView(data) &&
      (typeof data[Symbol.asyncIterator] === 'function' || typeof data[Symbol.iterator] === 'function')) {
    const fd = openSync(path, options && options.flag || 'w');
    try {
      for await (const piece of data) writeSync(fd, toBytes(piece, encodingOf(options)));
    } finally {
      closeSync(fd);
    }
    return undefined;
  }
  return writeFileSync(path, data, options);
};
promises.appendFile = async (path, data, options) => (path instanceof FileHandle ? path.appendFile(data, options) : appendFileSync(path, data, options));
promises.constants = constants;

// Streams over a descriptor: what Node's ReadStream and WriteStream have
// besides, and their 'open' and 'ready' events.
function opened(stream, path, fd, close) {
  stream.path = path;
  stream.fd = fd;
  stream.pending = false;
  stream.close = close;
  queueMicrotask(() => { stream.emit('open', fd); stream.emit('ready'); });
  return stream;
}

// The descriptor options.fd names (a number or a FileHandle), else path opened.
function streamFd(path, options, flags) {
  if (options.fd === undefined) return openSync(path, options.flags || flags, options.mode);
  return typeof options.fd === 'object' ? options.fd.fd : options.fd;
}
function createReadStream(path, options) {
  const { Readable } = require('node:stream');
  if (typeof options === 'string') options = { encoding: options };
  options = options || {};
  const fd = streamFd(path, options, 'r');
  let position = options.start;
  const end = options.end === undefined ? Infinity : options.end;
  const highWaterMark = options.highWaterMark || 65536;
  const stream = new Readable({
    highWaterMark,
    encoding: options.encoding,
    read() {
      try {
        const want = Math.min(highWaterMark, end - (position ?? descriptor(fd, 'read').position) + 1);
        if (want <= 0) return this.push(null);
        const buffer = Buffer.alloc(want);
        const read = readSync(fd, buffer, 0, want, position === undefined ? null : position);
        if (position !== undefined) position += read;
        this.bytesRead += read;
        this.push(read === 0 ? null : buffer.subarray(0, read));
      } catch (error) {
        this.destroy(error);
      }
    },
    destroy(error, callback) {
      if (options.autoClose !== false && isOpen(fd)) closeSync(fd);
      callback(error);
    },
  });
  stream.bytesRead = 0;
  return opened(stream, path, fd, (callback) => stream.destroy(null, callback));
}

function createWriteStream(path, options) {
  const { Writable } = require('node:stream');
  if (typeof options === 'string') options = { encoding: options };
  options = options || {};
  const fd = streamFd(path, options, 'w');
  let position = options.start;
  const stream = new Writable({
    decodeStrings: true,
    write(chunk, encoding, callback) {
      try {
        const written = writeSync(fd, toBytes(chunk, encoding), 0, chunk.length, position === undefined ? null : position);
        if (position !== undefined) position += written;
        stream.bytesWritten += written;
        callback();
      } catch (error) {
        callback(error);
      }
    },
    final(callback) {
      if (options.autoClose !== false && options.flush !== false && isOpen(fd)) closeSync(fd);
      callback();
    },
    destroy(error, callback) {
      if (options.autoClose !== false && isOpen(fd)) closeSync(fd);
      callback(error);
    },
  });
  stream.bytesWritten = 0;
  return opened(stream, path, fd, (callback) => { stream.end(); if (callback) stream.once('close', callback); });
}

const missing = unimplemented('fs', ['watch', 'watchFile', 'unwatchFile', 'glob', 'globSync',
  'statfs', 'statfsSync']);
const missingPromises = unimplemented('fs/promises', ['watch', 'glob', 'statfs']);
Object.assign(promises, missingPromises);

module.exports = {
  ...missing, ...sync, ...callbacks, exists, createReadStream, createWriteStream, openAsBlob,
  Stats, Dirent, Dir, FileHandle, ReadStream: unimplemented('fs', ['ReadStream']).ReadStream,
  WriteStream: unimplemented('fs', ['WriteStream']).WriteStream,
  constants, F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1, promises,
};
