// node:url: the WHATWG URL and URLSearchParams (the global ones), with
// Node's helpers for them. The legacy url.parse and url.resolve are built on
// the WHATWG parser here, not on Node's own legacy parser.
'use strict';

function fileURLToPath(url) {
  const u = typeof url === 'string' ? new URL(url) : url;
  if (!(u instanceof URL)) throw new TypeError('The "url" argument must be of type string or URL');
  if (u.protocol !== 'file:') {
    const error = new TypeError('The URL must be of scheme file');
    error.code = 'ERR_INVALID_URL_SCHEME';
    throw error;
  }
  if (u.hostname !== '') throw new TypeError('File URL host must be "localhost" or empty on linux');
  const path = u.pathname;
  if (/%2f/i.test(path)) throw new TypeError('File URL path must not include encoded / characters');
  return decodeURIComponent(path);
}

function pathToFileURL(path) {
  let resolved = String(path);
  if (!resolved.startsWith('/')) resolved = `/${resolved}`;
  const url = new URL('file://');
  url.pathname = resolved.replace(/%/g, '%25').replace(/\\/g, '%5C').replace(/\n/g, '%0A')
    .replace(/\r/g, '%0D').replace(/\t/g, '%09');
  return url;
}

function domainToASCII(domain) {
  try {
    return new URL(`ws://${domain}`).hostname;
  } catch {
    return '';
  }
}

function domainToUnicode(domain) {
  // Without an IDNA decoder here, ASCII labels pass and punycode stays.
  return domainToASCII(domain);
}

function format(url, options = {}) {
  if (typeof url === 'string') return url;
  if (url instanceof URL) {
    let out = `${url.protocol}${url.host || url.protocol === 'file:' ? '//' : ''}`;
    if (options.auth !== false && (url.username || url.password)) {
      out += url.username + (url.password ? `:${url.password}` : '') + '@';
    }
    out += url.host + url.pathname;
    if (options.search !== false) out += url.search;
    if (options.fragment !== false) out += url.hash;
    return out;
  }
  const protocol = url.protocol ? (url.protocol.endsWith(':') ? url.protocol : `${url.protocol}:`) : '';
  const host = url.host || (url.hostname ? url.hostname + (url.port ? `:${url.port}` : '') : '');
  const auth = url.auth ? `${url.auth}@` : '';
  let search = url.search || '';
  if (!search && url.query && typeof url.query === 'object') {
    const q = new URLSearchParams(url.query).toString();
    if (q) search = `?${q}`;
  } else if (!search && typeof url.query === 'string' && url.query) {
    search = `?${url.query}`;
  }
  const slashes = url.slashes || host || protocol === 'http:' || protocol === 'https:' ? '//' : '';
  return `${protocol}${host || auth ? slashes : ''}${auth}${host}${url.pathname || ''}${search}${url.hash || ''}`;
}

function parse(input, parseQueryString = false) {
  let u;
  try {
    u = new URL(input);
  } catch {
    u = null;
  }
  if (u === null) {
    const [pathPart, hash = null] = String(input).split('#');
    const [pathname, query = null] = pathPart.split('?');
    return {
      protocol: null, slashes: null, auth: null, host: null, port: null, hostname: null,
      hash: hash === null ? null : `#${hash}`, search: query === null ? null : `?${query}`,
      query: parseQueryString ? Object.fromEntries(new URLSearchParams(query || '')) : query,
      pathname, path: pathPart, href: String(input),
    };
  }
  const query = u.search ? u.search.slice(1) : null;
  return {
    protocol: u.protocol, slashes: true,
    auth: u.username ? decodeURIComponent(u.username) + (u.password ? `:${decodeURIComponent(u.password)}` : '') : null,
    host: u.host, port: u.port || null, hostname: u.hostname,
    hash: u.hash || null, search: u.search || null,
    query: parseQueryString ? Object.fromEntries(u.searchParams) : query,
    pathname: u.pathname, path: u.pathname + u.search, href: u.href,
  };
}

function resolve(from, to) {
  const resolved = new URL(to, new URL(from, 'resolve://'));
  if (resolved.protocol === 'resolve:') {
    const { pathname, search, hash } = resolved;
    return pathname + search + hash;
  }
  return resolved.toString();
}

function urlToHttpOptions(url) {
  return {
    protocol: url.protocol, hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    hash: url.hash, search: url.search, pathname: url.pathname, path: `${url.pathname || ''}${url.search || ''}`,
    href: url.href, ...(url.port !== '' ? { port: Number(url.port) } : {}),
    ...(url.username || url.password ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
  };
}

module.exports = {
  URL: globalThis.URL,
  URLSearchParams: globalThis.URLSearchParams,
  fileURLToPath,
  pathToFileURL,
  domainToASCII,
  domainToUnicode,
  format,
  parse,
  resolve,
  urlToHttpOptions,
};
