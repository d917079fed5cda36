// URLPattern (WHATWG URL Pattern Standard), as Workers has it: a pattern
// per URL component ("/books/:id", "http{s}?", "*.example.com"), each
// compiled once to a regular expression, and test()/exec() against a URL
// string or a dictionary of components. Routers written for Workers use it
// in place of a routing library.
//
// The algorithms are the standard's (tokenizer, pattern parser, regular
// expression and pattern string generation, the constructor string parser,
// "process a URLPatternInit"), with two choices the standard leaves to the
// URL parser's state overrides made as browsers make them: a hostname, a
// pathname and a search are canonicalized as parts of an https: URL (so
// "caf\u00e9.com" is "xn--caf-dma.com" and "'" in a search is "%27", as in a
// request's URL). V8 10.2 has no RegExp "v" flag; the expressions are
// compiled with "u".
//
// Tenant code can reach no regexp, list or record made here: exec() answers
// with fresh plain objects.
//
// Made on first use in an isolate (lazyGlobal): a function the snapshot
// holds uncompiled costs every cold start next to nothing, where its ~60
// functions and their objects cost each one ~0.6M instructions.

// Captured as the built-ins start, before any tenant code could replace them.
const URLPatternRegExp = RegExp;
const StringPrototypeCodePointAt = uncurryThis(String.prototype.codePointAt);
const StringFromCodePoint = String.fromCodePoint;

function makeURLPattern() {
  const UP_COMPONENTS = ['protocol', 'username', 'password', 'hostname', 'port', 'pathname', 'search', 'hash'];
  const UP_SPECIAL_SCHEMES = ['ftp', 'file', 'http', 'https', 'ws', 'wss'];
  const UP_FULL_WILDCARD = '.*';

  // token types
  const UPT_OPEN = 1;
  const UPT_CLOSE = 2;
  const UPT_REGEXP = 3;
  const UPT_NAME = 4;
  const UPT_CHAR = 5;
  const UPT_ESCAPED_CHAR = 6;
  const UPT_OTHER_MODIFIER = 7;
  const UPT_ASTERISK = 8;
  const UPT_END = 9;
  const UPT_INVALID_CHAR = 10;

  // part types and modifiers
  const UPP_FIXED = 1;
  const UPP_REGEXP = 2;
  const UPP_SEGMENT_WILDCARD = 3;
  const UPP_FULL_WILDCARD = 4;
  const UPM_NONE = '';
  const UPM_OPTIONAL = '?';
  const UPM_ZERO_OR_MORE = '*';
  const UPM_ONE_OR_MORE = '+';

  // compile options: the delimiter and prefix code points (as strings)
  const UP_DEFAULT_OPTIONS = { __proto__: null, delimiter: '', prefix: '', ignoreCase: false };
  const UP_HOSTNAME_OPTIONS = { __proto__: null, delimiter: '.', prefix: '', ignoreCase: false };
  const UP_PATHNAME_OPTIONS = { __proto__: null, delimiter: '/', prefix: '/', ignoreCase: false };

  const UP_NAME_START = /^[$_\p{ID_Start}]$/u;
  const UP_NAME_PART = /^[$_\u200C\u200D\p{ID_Continue}]$/u;

  function upError(what) {
    return new TypeError(`URLPattern: ${what}`);
  }

  function upCodePointLength(cp) {
    return cp > 0xFFFF ? 2 : 1;
  }

  function upIsValidNameCodePoint(cp, first) {
    if (cp === undefined) return false;
    if (cp < 0x80) {
      if (cp === 0x24 || cp === 0x5F) return true; // $ _
      if ((cp >= 0x41 && cp <= 0x5A) || (cp >= 0x61 && cp <= 0x7A)) return true;
      return !first && cp >= 0x30 && cp <= 0x39;
    }
    const char = StringFromCodePoint(cp);
    return RegExpPrototypeExec(first ? UP_NAME_START : UP_NAME_PART, char) !== null;
  }

  function upIsASCIIDigit(c) {
    return c >= 0x30 && c <= 0x39;
  }

  // Backslash before each character that means something in the syntax.
  function upEscape(input, specials) {
    let out = '';
    let from = 0;
    for (let i = 0; i < input.length; i++) {
      const c = StringPrototypeCharCodeAt(input, i);
      if (c < 0x80 && specials[c] === 1) {
        out += `${StringPrototypeSlice(input, from, i)}\\`;
        from = i;
      }
    }
    return from === 0 ? (out === '' ? input : out + input) : out + StringPrototypeSlice(input, from);
  }
  function upSpecials(chars) {
    const table = new Uint8Array(128);
    for (let i = 0; i < chars.length; i++) table[StringPrototypeCharCodeAt(chars, i)] = 1;
    return table;
  }
  const UP_PATTERN_SPECIALS = upSpecials('+*?:{}()\\');
  const UP_REGEXP_SPECIALS = upSpecials('.+*?^${}()[]|/\\');
  const upEscapePatternString = (input) => upEscape(input, UP_PATTERN_SPECIALS);
  const upEscapeRegExpString = (input) => upEscape(input, UP_REGEXP_SPECIALS);

  function upSegmentWildcardRegexp(options) {
    return `[^${upEscapeRegExpString(options.delimiter)}]+?`;
  }

  // ---- the tokenizer ----

  function upTokenize(input, strict) {
    const tokens = listNew();
    const length = input.length;
    let index = 0;
    const add = (type, next, valueStart, valueEnd) => {
      listPush(tokens, { __proto__: null, type, index, value: StringPrototypeSlice(input, valueStart, valueEnd) });
      index = next;
    };
    // A character that cannot start a token: an error, or (lenient, for the
    // constructor string parser) a token of its own.
    const invalid = (next, valueStart) => {
      if (strict) throw upError(`invalid pattern '${input}': unexpected '${StringPrototypeSlice(input, valueStart, next > valueStart ? next : valueStart + 1)}' at ${valueStart}`);
      add(UPT_INVALID_CHAR, next, valueStart, next);
    };
    while (index < length) {
      const cp = StringPrototypeCodePointAt(input, index);
      const next = index + upCodePointLength(cp);
      if (cp === 0x2A) { // *
        add(UPT_ASTERISK, next, index, next);
      } else if (cp === 0x2B || cp === 0x3F) { // + ?
        add(UPT_OTHER_MODIFIER, next, index, next);
      } else if (cp === 0x5C) { // \
        if (next >= length) {
          invalid(next, index);
        } else {
          const escaped = StringPrototypeCodePointAt(input, next);
          const after = next + upCodePointLength(escaped);
          add(UPT_ESCAPED_CHAR, after, next, after);
        }
      } else if (cp === 0x7B) { // {
        add(UPT_OPEN, next, index, next);
      } else if (cp === 0x7D) { // }
        add(UPT_CLOSE, next, index, next);
      } else if (cp === 0x3A) { // :name
        let position = next;
        while (position < length) {
          const c = StringPrototypeCodePointAt(input, position);
          if (!upIsValidNameCodePoint(c, position === next)) break;
          position += upCodePointLength(c);
        }
        if (position <= next) invalid(next, index);
        else add(UPT_NAME, position, next, position);
      } else if (cp === 0x28) { // (regexp)
        let depth = 1;
        let position = next;
        let error = false;
        while (position < length) {
          const c = StringPrototypeCodePointAt(input, position);
          const after = position + upCodePointLength(c);
          if (c > 0x7F || (position === next && c === 0x3F)) {
            error = true;
            break;
          }
          if (c === 0x5C) {
            if (after >= length || StringPrototypeCodePointAt(input, after) > 0x7F) {
              error = true;
              break;
            }
            position = after + 1;
            continue;
          }
          if (c === 0x29) {
            depth--;
            if (depth === 0) {
              position = after;
              break;
            }
          } else if (c === 0x28) {
            depth++;
            // only non-capturing groups inside: "(?"
            if (after >= length || StringPrototypeCharCodeAt(input, after) !== 0x3F) {
              error = true;
              break;
            }
          }
          position = after;
        }
        if (error || depth !== 0 || position - next - 1 === 0) invalid(next, index);
        else add(UPT_REGEXP, position, next, position - 1);
      } else {
        add(UPT_CHAR, next, index, next);
      }
    }
    add(UPT_END, index, index, index);
    return tokens;
  }

  // ---- the pattern parser ----

  function upNewPart(type, value, modifier, name, prefix, suffix) {
    return { __proto__: null, type, value, modifier, name, prefix, suffix };
  }

  function upParsePattern(input, options, encode) {
    const tokens = upTokenize(input, true);
    const parts = listNew();
    const segmentWildcard = upSegmentWildcardRegexp(options);
    let pending = '';
    let index = 0;
    let nextNumericName = 0;

    const tryConsume = (type) => {
      const token = tokens[index];
      if (token.type !== type) return null;
      index++;
      return token;
    };
    const tryRegexpOrWildcard = (nameToken) => {
      const token = tryConsume(UPT_REGEXP);
      return nameToken === null && token === null ? tryConsume(UPT_ASTERISK) : token;
    };
    const tryModifier = () => tryConsume(UPT_OTHER_MODIFIER) ?? tryConsume(UPT_ASTERISK);
    const consumeText = () => {
      let result = '';
      for (;;) {
        const token = tryConsume(UPT_CHAR) ?? tryConsume(UPT_ESCAPED_CHAR);
        if (token === null) return result;
        result += token.value;
      }
    };
    const consumeRequired = (type) => {
      if (tryConsume(type) === null) {
        const token = tokens[index];
        throw upError(`invalid pattern '${input}': unexpected '${token.value}' at ${token.index}`);
      }
    };
    const flushPending = () => {
      if (pending === '') return;
      const encoded = encode(pending);
      pending = '';
      listPush(parts, upNewPart(UPP_FIXED, encoded, UPM_NONE, '', '', ''));
    };
    const addPart = (prefix, nameToken, regexpToken, suffix, modifierToken) => {
      const modifier = modifierToken === null ? UPM_NONE : modifierToken.value;
      if (nameToken === null && regexpToken === null && modifier === UPM_NONE) {
        pending += prefix;
        return;
      }
      flushPending();
      if (nameToken === null && regexpToken === null) {
        if (prefix !== '') listPush(parts, upNewPart(UPP_FIXED, encode(prefix), modifier, '', '', ''));
        return;
      }
      let value;
      if (regexpToken === null) value = segmentWildcard;
      else if (regexpToken.type === UPT_ASTERISK) value = UP_FULL_WILDCARD;
      else value = regexpToken.value;
      let type = UPP_REGEXP;
      if (value === segmentWildcard) {
        type = UPP_SEGMENT_WILDCARD;
        value = '';
      } else if (value === UP_FULL_WILDCARD) {
        type = UPP_FULL_WILDCARD;
        value = '';
      }
      let name;
      if (nameToken !== null) {
        name = nameToken.value;
      } else {
        name = `${nextNumericName}`;
        nextNumericName++;
      }
      for (let i = 0; i < parts.length; i++) {
        if (parts[i].name === name) throw upError(`invalid pattern '${input}': the name '${name}' is used twice`);
      }
      listPush(parts, upNewPart(type, value, modifier, name, encode(prefix), encode(suffix)));
    };

    while (index < tokens.length) {
      const charToken = tryConsume(UPT_CHAR);
      let nameToken = tryConsume(UPT_NAME);
      let regexpToken = tryRegexpOrWildcard(nameToken);
      if (nameToken !== null || regexpToken !== null) {
        let prefix = charToken === null ? '' : charToken.value;
        if (prefix !== '' && prefix !== options.prefix) {
          pending += prefix;
          prefix = '';
        }
        flushPending();
        addPart(prefix, nameToken, regexpToken, '', tryModifier());
        continue;
      }
      const fixedToken = charToken ?? tryConsume(UPT_ESCAPED_CHAR);
      if (fixedToken !== null) {
        pending += fixedToken.value;
        continue;
      }
      if (tryConsume(UPT_OPEN) !== null) {
        const prefix = consumeText();
        nameToken = tryConsume(UPT_NAME);
        regexpToken = tryRegexpOrWildcard(nameToken);
        const suffix = consumeText();
        consumeRequired(UPT_CLOSE);
        addPart(prefix, nameToken, regexpToken, suffix, tryModifier());
        continue;
      }
      flushPending();
      consumeRequired(UPT_END);
    }
    return parts;
  }

  // ---- a component: its regular expression and its pattern string ----

  function upRegexpAndNames(parts, options) {
    let result = '^';
    const names = listNew();
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (part.type === UPP_FIXED) {
        result += part.modifier === UPM_NONE
          ? upEscapeRegExpString(part.value)
          : `(?:${upEscapeRegExpString(part.value)})${part.modifier}`;
        continue;
      }
      listPush(names, part.name);
      let value = part.value;
      if (part.type === UPP_SEGMENT_WILDCARD) value = upSegmentWildcardRegexp(options);
      else if (part.type === UPP_FULL_WILDCARD) value = UP_FULL_WILDCARD;
      const repeated = part.modifier === UPM_ZERO_OR_MORE || part.modifier === UPM_ONE_OR_MORE;
      if (part.prefix === '' && part.suffix === '') {
        result += repeated ? `((?:${value})${part.modifier})` : `(${value})${part.modifier}`;
        continue;
      }
      const prefix = upEscapeRegExpString(part.prefix);
      const suffix = upEscapeRegExpString(part.suffix);
      if (!repeated) {
        result += `(?:${prefix}(${value})${suffix})${part.modifier}`;
        continue;
      }
      result += `(?:${prefix}((?:${value})(?:${suffix}${prefix}(?:${value}))*)${suffix})`;
      if (part.modifier === UPM_ZERO_OR_MORE) result += '?';
    }
    return { regexp: `${result}$`, names };
  }

  function upPatternString(parts, options) {
    let result = '';
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      const previous = i > 0 ? parts[i - 1] : null;
      const next = i + 1 < parts.length ? parts[i + 1] : null;
      if (part.type === UPP_FIXED) {
        result += part.modifier === UPM_NONE
          ? upEscapePatternString(part.value)
          : `{${upEscapePatternString(part.value)}}${part.modifier}`;
        continue;
      }
      const customName = !upIsASCIIDigit(StringPrototypeCharCodeAt(part.name, 0));
      let grouping = part.suffix !== '' || (part.prefix !== '' && part.prefix !== options.prefix);
      if (!grouping && customName && part.type === UPP_SEGMENT_WILDCARD && part.modifier === UPM_NONE
          && next !== null && next.prefix === '' && next.suffix === '') {
        grouping = next.type === UPP_FIXED
          ? upIsValidNameCodePoint(StringPrototypeCodePointAt(next.value, 0), false)
          : upIsASCIIDigit(StringPrototypeCharCodeAt(next.name, 0));
      }
      if (!grouping && part.prefix === '' && previous !== null && previous.type === UPP_FIXED
          && options.prefix !== '' && previous.value !== ''
          && StringPrototypeCharCodeAt(previous.value, previous.value.length - 1)
            === StringPrototypeCharCodeAt(options.prefix, 0)) {
        grouping = true;
      }
      if (grouping) result += '{';
      result += upEscapePatternString(part.prefix);
      if (customName) result += `:${part.name}`;
      if (part.type === UPP_REGEXP) {
        result += `(${part.value})`;
      } else if (part.type === UPP_SEGMENT_WILDCARD && !customName) {
        result += `(${upSegmentWildcardRegexp(options)})`;
      } else if (part.type === UPP_FULL_WILDCARD) {
        if (!customName && (previous === null || previous.type === UPP_FIXED || previous.modifier !== UPM_NONE
                            || grouping || part.prefix !== '')) {
          result += '*';
        } else {
          result += `(${UP_FULL_WILDCARD})`;
        }
      }
      if (part.type === UPP_SEGMENT_WILDCARD && customName && part.suffix !== ''
          && upIsValidNameCodePoint(StringPrototypeCodePointAt(part.suffix, 0), false)) {
        result += '\\';
      }
      result += upEscapePatternString(part.suffix);
      if (grouping) result += '}';
      result += part.modifier;
    }
    return result;
  }

  function upCompileComponent(input, encode, options) {
    const parts = upParsePattern(input, options, encode);
    const { regexp, names } = upRegexpAndNames(parts, options);
    let compiled;
    try {
      compiled = new URLPatternRegExp(regexp, options.ignoreCase ? 'ui' : 'u');
    } catch (e) {
      throw upError(`invalid pattern '${input}': ${e.message}`);
    }
    let hasRegExpGroups = false;
    for (let i = 0; i < parts.length; i++) {
      if (parts[i].type === UPP_REGEXP) hasRegExpGroups = true;
    }
    return { __proto__: null, pattern: upPatternString(parts, options), regexp: compiled, names, hasRegExpGroups };
  }

  function upMatchesSpecialScheme(component) {
    for (let i = 0; i < UP_SPECIAL_SCHEMES.length; i++) {
      if (RegExpPrototypeExec(component.regexp, UP_SPECIAL_SCHEMES[i]) !== null) return true;
    }
    return false;
  }

  // ---- canonicalizing component values, through the URL parser ----

  function upCanonicalizeProtocol(value) {
    if (value === '') return value;
    const record = basicURLParse(`${value}://dummy.test`);
    if (record === null) throw upError(`invalid protocol '${value}'`);
    return record.scheme;
  }

  function upCanonicalizeUserinfo(value) {
    return percentEncode(value, USERINFO_SET);
  }

  function upDummyURL() {
    const url = newURLRecord();
    url.scheme = 'https';
    url.host = 'dummy.test';
    return url;
  }

  // What a hostname pattern may not hold, even where the URL parser would
  // stop at it ("bad#hostname") or take it out (tabs and newlines): an
  // error, as in browsers.
  const UP_FORBIDDEN_HOSTNAME = /[\t\n\r #%/:<>?@[\]^\\|]/;

  function upCanonicalizeHostname(value) {
    if (value === '') return value;
    // An IPv6 address ("[::1]", a URL's hostname) goes to the URL parser whole.
    if (StringPrototypeCharCodeAt(value, 0) !== CP_LEFT_BRACKET
        && RegExpPrototypeExec(UP_FORBIDDEN_HOSTNAME, value) !== null) {
      throw upError(`invalid hostname '${value}'`);
    }
    const url = upDummyURL();
    if (basicURLParse(value, null, url, HOSTNAME_STATE) === null) throw upError(`invalid hostname '${value}'`);
    return url.host ?? '';
  }

  function upCanonicalizeIPv6Hostname(value) {
    let result = '';
    for (let i = 0; i < value.length; i++) {
      const c = StringPrototypeCharCodeAt(value, i);
      if (urlHexValue(c) < 0 && c !== CP_LEFT_BRACKET && c !== CP_RIGHT_BRACKET && c !== CP_COLON) {
        throw upError(`invalid IPv6 hostname '${value}'`);
      }
      result += c >= 0x41 && c <= 0x5A ? StringPrototypeToLowerCase(value[i]) : value[i];
    }
    return result;
  }

  const UP_PORT = /^[0-9]+$/;

  function upCanonicalizePort(value, protocol = undefined) {
    if (value === '') return value;
    if (RegExpPrototypeExec(UP_PORT, value) === null) throw upError(`invalid port '${value}'`);
    const url = upDummyURL();
    url.scheme = protocol === undefined ? '' : protocol;
    if (basicURLParse(value, null, url, PORT_STATE) === null) throw upError(`invalid port '${value}'`);
    return url.port === null ? '' : `${url.port}`;
  }

  function upCanonicalizePathname(value) {
    if (value === '') return value;
    const leadingSlash = StringPrototypeCharCodeAt(value, 0) === CP_SLASH;
    const url = upDummyURL();
    url.path = listNew();
    basicURLParse(leadingSlash ? value : `/-${value}`, null, url, PATH_START_STATE);
    const result = urlPathname(url);
    return leadingSlash ? result : StringPrototypeSlice(result, 2);
  }

  function upCanonicalizeOpaquePathname(value) {
    if (value === '') return value;
    const url = newURLRecord();
    url.path = '';
    basicURLParse(value, null, url, OPAQUE_PATH_STATE);
    return url.path;
  }

  function upCanonicalizeSearch(value) {
    if (value === '') return value;
    const url = upDummyURL();
    url.query = '';
    basicURLParse(value, null, url, QUERY_STATE);
    return url.query;
  }

  function upCanonicalizeHash(value) {
    if (value === '') return value;
    const url = upDummyURL();
    url.fragment = '';
    basicURLParse(value, null, url, FRAGMENT_STATE);
    return url.fragment;
  }

  function upIsSpecialSchemeString(value) {
    return ArrayPrototypeIncludes(UP_SPECIAL_SCHEMES, value);
  }

  // ---- process a URLPatternInit ----

  // WebIDL's URLPatternInit: its members in their (lexicographic) order, each
  // a USVString when present. A record with only the members given.
  const UP_INIT_MEMBERS = ['baseURL', 'hash', 'hostname', 'password', 'pathname', 'port', 'protocol', 'search', 'username'];

  function upToInit(value) {
    const init = { __proto__: null };
    if (value === undefined || value === null) return init;
    if (!isObject(value)) throw upError('the input must be a string or a URLPatternInit dictionary');
    for (let i = 0; i < UP_INIT_MEMBERS.length; i++) {
      const member = UP_INIT_MEMBERS[i];
      const v = value[member];
      if (v !== undefined) init[member] = toUSVString(v);
    }
    return init;
  }

  function upHas(init, member) {
    return init[member] !== undefined;
  }

  function upStripPrefix(value, c) {
    return value !== '' && StringPrototypeCharCodeAt(value, 0) === c ? StringPrototypeSlice(value, 1) : value;
  }

  function upIsAbsolutePathname(input, isPattern) {
    if (input === '') return false;
    const c = StringPrototypeCharCodeAt(input, 0);
    if (c === CP_SLASH) return true;
    if (!isPattern || input.length < 2) return false;
    return (c === CP_BACKSLASH || c === 0x7B) && StringPrototypeCharCodeAt(input, 1) === CP_SLASH;
  }

  // isPattern: the init is a pattern's (values stay patterns; what comes from
  // the base URL is escaped), else a URL's (values are canonicalized).
  // Throws a TypeError for what is not valid.
  function upProcessInit(init, isPattern) {
    const result = { __proto__: null };
    if (!isPattern) {
      for (let i = 0; i < UP_COMPONENTS.length; i++) result[UP_COMPONENTS[i]] = '';
    }
    const fromBase = (value) => (isPattern ? upEscapePatternString(value) : value);
    let baseURL = null;
    if (upHas(init, 'baseURL')) {
      baseURL = basicURLParse(init.baseURL);
      if (baseURL === null) throw upError(`invalid base URL '${init.baseURL}'`);
      const has = (...members) => {
        for (let i = 0; i < members.length; i++) if (upHas(init, members[i])) return true;
        return false;
      };
      if (!upHas(init, 'protocol')) result.protocol = fromBase(baseURL.scheme);
      if (!isPattern && !has('protocol', 'hostname', 'port', 'username')) result.username = fromBase(baseURL.username);
      if (!isPattern && !has('protocol', 'hostname', 'port', 'username', 'password')) {
        result.password = fromBase(baseURL.password);
      }
      if (!has('protocol', 'hostname')) result.hostname = fromBase(baseURL.host ?? '');
      if (!has('protocol', 'hostname', 'port')) result.port = baseURL.port === null ? '' : `${baseURL.port}`;
      if (!has('protocol', 'hostname', 'port', 'pathname')) result.pathname = fromBase(urlPathname(baseURL));
      if (!has('protocol', 'hostname', 'port', 'pathname', 'search')) result.search = fromBase(baseURL.query ?? '');
      if (!has('protocol', 'hostname', 'port', 'pathname', 'search', 'hash')) {
        result.hash = fromBase(baseURL.fragment ?? '');
      }
    }
    if (upHas(init, 'protocol')) {
      const value = init.protocol;
      const stripped = value !== '' && StringPrototypeCharCodeAt(value, value.length - 1) === CP_COLON
        ? StringPrototypeSlice(value, 0, -1) : value;
      result.protocol = isPattern ? stripped : upCanonicalizeProtocol(stripped);
    }
    if (upHas(init, 'username')) result.username = isPattern ? init.username : upCanonicalizeUserinfo(init.username);
    if (upHas(init, 'password')) result.password = isPattern ? init.password : upCanonicalizeUserinfo(init.password);
    if (upHas(init, 'hostname')) result.hostname = isPattern ? init.hostname : upCanonicalizeHostname(init.hostname);
    if (upHas(init, 'port')) result.port = isPattern ? init.port : upCanonicalizePort(init.port, result.protocol);
    if (upHas(init, 'pathname')) {
      let pathname = init.pathname;
      if (baseURL !== null && !hasOpaquePath(baseURL) && !upIsAbsolutePathname(pathname, isPattern)) {
        const basePath = fromBase(urlPathname(baseURL));
        let slash = -1;
        for (let i = basePath.length - 1; i >= 0; i--) {
          if (StringPrototypeCharCodeAt(basePath, i) === CP_SLASH) {
            slash = i;
            break;
          }
        }
        if (slash >= 0) pathname = StringPrototypeSlice(basePath, 0, slash + 1) + pathname;
      }
      if (!isPattern) {
        const protocol = result.protocol ?? '';
        pathname = protocol === '' || isSpecialScheme(protocol)
          ? upCanonicalizePathname(pathname) : upCanonicalizeOpaquePathname(pathname);
      }
      result.pathname = pathname;
    }
    if (upHas(init, 'search')) {
      const stripped = upStripPrefix(init.search, CP_QUESTION);
      result.search = isPattern ? stripped : upCanonicalizeSearch(stripped);
    }
    if (upHas(init, 'hash')) {
      const stripped = upStripPrefix(init.hash, CP_HASH);
      result.hash = isPattern ? stripped : upCanonicalizeHash(stripped);
    }
    return result;
  }

  // ---- the constructor string parser ----

  const UPS_INIT = 'init';
  const UPS_PROTOCOL = 'protocol';
  const UPS_AUTHORITY = 'authority';
  const UPS_USERNAME = 'username';
  const UPS_PASSWORD = 'password';
  const UPS_HOSTNAME = 'hostname';
  const UPS_PORT = 'port';
  const UPS_PATHNAME = 'pathname';
  const UPS_SEARCH = 'search';
  const UPS_HASH = 'hash';
  const UPS_DONE = 'done';

  function upParseConstructorString(input) {
    const tokens = upTokenize(input, false);
    const result = { __proto__: null };
    let componentStart = 0;
    let tokenIndex = 0;
    let tokenIncrement = 1;
    let groupDepth = 0;
    let ipv6Depth = 0;
    let protocolIsSpecial = false;
    let state = UPS_INIT;

    const safeToken = (i) => (i < tokens.length ? tokens[i] : tokens[tokens.length - 1]);
    const isNonSpecialPatternChar = (i, value) => {
      const token = safeToken(i);
      if (token.value !== value) return false;
      return token.type === UPT_CHAR || token.type === UPT_ESCAPED_CHAR || token.type === UPT_INVALID_CHAR;
    };
    const isSearchPrefix = () => {
      if (isNonSpecialPatternChar(tokenIndex, '?')) return true;
      if (tokens[tokenIndex].value !== '?') return false;
      if (tokenIndex - 1 < 0) return true;
      const previous = safeToken(tokenIndex - 1);
      return previous.type !== UPT_NAME && previous.type !== UPT_REGEXP && previous.type !== UPT_CLOSE
        && previous.type !== UPT_ASTERISK;
    };
    const isPathnameStart = () => isNonSpecialPatternChar(tokenIndex, '/');
    const isHashPrefix = () => isNonSpecialPatternChar(tokenIndex, '#');
    const isIdentityTerminator = () => isNonSpecialPatternChar(tokenIndex, '@');
    const isColon = () => isNonSpecialPatternChar(tokenIndex, ':');
    const componentString = () => {
      const start = safeToken(componentStart).index;
      return StringPrototypeSlice(input, start, tokens[tokenIndex].index);
    };
    const rewind = () => {
      tokenIndex = componentStart;
      tokenIncrement = 0;
    };
    const rewindAndSetState = (next) => {
      rewind();
      state = next;
    };
    const changeState = (next, skip) => {
      if (state !== UPS_INIT && state !== UPS_AUTHORITY && state !== UPS_DONE) result[state] = componentString();
      if (state !== UPS_INIT && next !== UPS_DONE) {
        const beforeHost = state === UPS_PROTOCOL || state === UPS_AUTHORITY || state === UPS_USERNAME
          || state === UPS_PASSWORD;
        const beforePath = beforeHost || state === UPS_HOSTNAME || state === UPS_PORT;
        if (beforeHost && (next === UPS_PORT || next === UPS_PATHNAME || next === UPS_SEARCH || next === UPS_HASH)
            && result.hostname === undefined) {
          result.hostname = '';
        }
        if (beforePath && (next === UPS_SEARCH || next === UPS_HASH) && result.pathname === undefined) {
          result.pathname = protocolIsSpecial ? '/' : '';
        }
        if ((beforePath || state === UPS_PATHNAME) && next === UPS_HASH && result.search === undefined) {
          result.search = '';
        }
      }
      state = next;
      tokenIndex += skip;
      componentStart = tokenIndex;
      tokenIncrement = 0;
    };

    while (tokenIndex < tokens.length) {
      tokenIncrement = 1;
      const token = tokens[tokenIndex];
      if (token.type === UPT_END) {
        if (state === UPS_INIT) {
          rewind();
          if (isHashPrefix()) changeState(UPS_HASH, 1);
          else if (isSearchPrefix()) changeState(UPS_SEARCH, 1);
          else changeState(UPS_PATHNAME, 0);
          tokenIndex += tokenIncrement;
          continue;
        }
        if (state === UPS_AUTHORITY) {
          rewindAndSetState(UPS_HOSTNAME);
          tokenIndex += tokenIncrement;
          continue;
        }
        changeState(UPS_DONE, 0);
        break;
      }
      if (token.type === UPT_OPEN) {
        groupDepth++;
        tokenIndex += tokenIncrement;
        continue;
      }
      if (groupDepth > 0) {
        if (token.type === UPT_CLOSE) {
          groupDepth--;
        } else {
          tokenIndex += tokenIncrement;
          continue;
        }
      }
      switch (state) {
        case UPS_INIT:
          if (isColon()) rewindAndSetState(UPS_PROTOCOL);
          break;
        case UPS_PROTOCOL:
          if (isColon()) {
            const protocol = upCompileComponent(componentString(), upCanonicalizeProtocol, UP_DEFAULT_OPTIONS);
            protocolIsSpecial = upMatchesSpecialScheme(protocol);
            let next = UPS_PATHNAME;
            let skip = 1;
            if (isNonSpecialPatternChar(tokenIndex + 1, '/') && isNonSpecialPatternChar(tokenIndex + 2, '/')) {
              next = UPS_AUTHORITY;
              skip = 3;
            } else if (protocolIsSpecial) {
              next = UPS_AUTHORITY;
            }
            changeState(next, skip);
          }
          break;
        case UPS_AUTHORITY:
          if (isIdentityTerminator()) rewindAndSetState(UPS_USERNAME);
          else if (isPathnameStart() || isSearchPrefix() || isHashPrefix()) rewindAndSetState(UPS_HOSTNAME);
          break;
        case UPS_USERNAME:
          if (isColon()) changeState(UPS_PASSWORD, 1);
          else if (isIdentityTerminator()) changeState(UPS_HOSTNAME, 1);
          break;
        case UPS_PASSWORD:
          if (isIdentityTerminator()) changeState(UPS_HOSTNAME, 1);
          break;
        case UPS_HOSTNAME:
          if (isNonSpecialPatternChar(tokenIndex, '[')) ipv6Depth++;
          else if (isNonSpecialPatternChar(tokenIndex, ']')) ipv6Depth--;
          else if (isColon() && ipv6Depth === 0) changeState(UPS_PORT, 1);
          else if (isPathnameStart()) changeState(UPS_PATHNAME, 0);
          else if (isSearchPrefix()) changeState(UPS_SEARCH, 1);
          else if (isHashPrefix()) changeState(UPS_HASH, 1);
          break;
        case UPS_PORT:
          if (isPathnameStart()) changeState(UPS_PATHNAME, 0);
          else if (isSearchPrefix()) changeState(UPS_SEARCH, 1);
          else if (isHashPrefix()) changeState(UPS_HASH, 1);
          break;
        case UPS_PATHNAME:
          if (isSearchPrefix()) changeState(UPS_SEARCH, 1);
          else if (isHashPrefix()) changeState(UPS_HASH, 1);
          break;
        case UPS_SEARCH:
          if (isHashPrefix()) changeState(UPS_HASH, 1);
          break;
        default:
          break;
      }
      tokenIndex += tokenIncrement;
    }
    if (result.hostname !== undefined && result.port === undefined) result.port = '';
    return result;
  }

  // ---- URLPattern ----

  function upIsIPv6Pattern(value) {
    if (value.length < 2) return false;
    const c = StringPrototypeCharCodeAt(value, 0);
    if (c === CP_LEFT_BRACKET) return true;
    return (c === 0x7B || c === CP_BACKSLASH) && StringPrototypeCharCodeAt(value, 1) === CP_LEFT_BRACKET;
  }

  function upWithIgnoreCase(options, ignoreCase) {
    return ignoreCase ? { __proto__: null, delimiter: options.delimiter, prefix: options.prefix, ignoreCase } : options;
  }

  // The result's groups: a plain object, each group's value or undefined.
  function upComponentResult(component, input, match) {
    const groups = {};
    for (let i = 1; i < match.length; i++) {
      ObjectDefineProperty(groups, component.names[i - 1], {
        value: match[i], writable: true, enumerable: true, configurable: true,
      });
    }
    return { input, groups };
  }

  class URLPattern {
    #components; // component name -> compiled component

    constructor(input = undefined, baseURL = undefined, options = undefined) {
      // The two overloads: (input, baseURL, options) and (input, options).
      if (baseURL === undefined || baseURL === null || isObject(baseURL)) {
        options = baseURL;
        baseURL = undefined;
      } else {
        baseURL = toUSVString(baseURL);
      }
      const { ignoreCase = false } = toDictionary(options, 'URLPattern');
      let init;
      if (typeof input !== 'string' && (input === undefined || input === null || isObject(input))) {
        if (baseURL !== undefined) throw upError('a base URL goes in the dictionary, not after it');
        init = upToInit(input);
      } else {
        init = upParseConstructorString(toUSVString(input));
        if (baseURL === undefined && init.protocol === undefined) {
          throw upError(`a relative pattern needs a base URL: '${input}'`);
        }
        if (baseURL !== undefined) init.baseURL = baseURL;
      }
      const processed = upProcessInit(init, true);
      for (let i = 0; i < UP_COMPONENTS.length; i++) {
        if (processed[UP_COMPONENTS[i]] === undefined) processed[UP_COMPONENTS[i]] = '*';
      }
      const defaultPort = upIsSpecialSchemeString(processed.protocol) ? urlDefaultPort(processed.protocol) : null;
      if (defaultPort !== null && processed.port === `${defaultPort}`) processed.port = '';
      const components = { __proto__: null };
      components.protocol = upCompileComponent(processed.protocol, upCanonicalizeProtocol, UP_DEFAULT_OPTIONS);
      components.username = upCompileComponent(processed.username, upCanonicalizeUserinfo, UP_DEFAULT_OPTIONS);
      components.password = upCompileComponent(processed.password, upCanonicalizeUserinfo, UP_DEFAULT_OPTIONS);
      components.hostname = upIsIPv6Pattern(processed.hostname)
        ? upCompileComponent(processed.hostname, upCanonicalizeIPv6Hostname, UP_HOSTNAME_OPTIONS)
        : upCompileComponent(processed.hostname, upCanonicalizeHostname, UP_HOSTNAME_OPTIONS);
      components.port = upCompileComponent(processed.port, upCanonicalizePort, UP_DEFAULT_OPTIONS);
      const caseOptions = upWithIgnoreCase(UP_DEFAULT_OPTIONS, Boolean(ignoreCase));
      components.pathname = upMatchesSpecialScheme(components.protocol)
        ? upCompileComponent(processed.pathname, upCanonicalizePathname,
          upWithIgnoreCase(UP_PATHNAME_OPTIONS, Boolean(ignoreCase)))
        : upCompileComponent(processed.pathname, upCanonicalizeOpaquePathname, caseOptions);
      components.search = upCompileComponent(processed.search, upCanonicalizeSearch, caseOptions);
      components.hash = upCompileComponent(processed.hash, upCanonicalizeHash, caseOptions);
      this.#components = components;
    }

    test(input = undefined, baseURL = undefined) {
      return this.#match(input, baseURL) !== null;
    }

    exec(input = undefined, baseURL = undefined) {
      return this.#match(input, baseURL);
    }

    // The values of each component to match, or null when input is no URL.
    #match(input, baseURL) {
      const components = this.#components;
      let inputs;
      let values;
      if (typeof input !== 'string' && (input === undefined || input === null || isObject(input))) {
        if (baseURL !== undefined) throw upError('a base URL goes in the dictionary, not after it');
        const init = upToInit(input);
        const given = {};
        for (let i = 0; i < UP_INIT_MEMBERS.length; i++) {
          const member = UP_INIT_MEMBERS[i];
          if (init[member] !== undefined) {
            ObjectDefineProperty(given, member, { value: init[member], writable: true, enumerable: true, configurable: true });
          }
        }
        inputs = [given];
        try {
          values = upProcessInit(init, false);
        } catch {
          return null;
        }
      } else {
        const string = toUSVString(input);
        inputs = [string];
        let base = null;
        if (baseURL !== undefined) {
          const baseString = toUSVString(baseURL);
          base = basicURLParse(baseString);
          if (base === null) return null;
          inputs = [string, baseString];
        }
        const url = basicURLParse(string, base);
        if (url === null) return null;
        values = {
          __proto__: null,
          protocol: url.scheme,
          username: url.username,
          password: url.password,
          hostname: url.host ?? '',
          port: url.port === null ? '' : `${url.port}`,
          pathname: urlPathname(url),
          search: url.query ?? '',
          hash: url.fragment ?? '',
        };
      }
      const matches = { __proto__: null };
      for (let i = 0; i < UP_COMPONENTS.length; i++) {
        const name = UP_COMPONENTS[i];
        const match = RegExpPrototypeExec(components[name].regexp, values[name]);
        if (match === null) return null;
        matches[name] = match;
      }
      return {
        inputs,
        protocol: upComponentResult(components.protocol, values.protocol, matches.protocol),
        username: upComponentResult(components.username, values.username, matches.username),
        password: upComponentResult(components.password, values.password, matches.password),
        hostname: upComponentResult(components.hostname, values.hostname, matches.hostname),
        port: upComponentResult(components.port, values.port, matches.port),
        pathname: upComponentResult(components.pathname, values.pathname, matches.pathname),
        search: upComponentResult(components.search, values.search, matches.search),
        hash: upComponentResult(components.hash, values.hash, matches.hash),
      };
    }

    get protocol() {
      return this.#components.protocol.pattern;
    }

    get username() {
      return this.#components.username.pattern;
    }

    get password() {
      return this.#components.password.pattern;
    }

    get hostname() {
      return this.#components.hostname.pattern;
    }

    get port() {
      return this.#components.port.pattern;
    }

    get pathname() {
      return this.#components.pathname.pattern;
    }

    get search() {
      return this.#components.search.pattern;
    }

    get hash() {
      return this.#components.hash.pattern;
    }

    get hasRegExpGroups() {
      const components = this.#components;
      for (let i = 0; i < UP_COMPONENTS.length; i++) {
        if (components[UP_COMPONENTS[i]].hasRegExpGroups) return true;
      }
      return false;
    }

    static {
      registerInspector('URLPattern', (value) => {
        if (!(#components in value)) return undefined;
        const c = value.#components;
        return {
          protocol: c.protocol.pattern, username: c.username.pattern, password: c.password.pattern,
          hostname: c.hostname.pattern, port: c.port.pattern, pathname: c.pathname.pattern,
          search: c.search.pattern, hash: c.hash.pattern,
        };
      });
    }
  }

  setToStringTag(URLPattern.prototype, 'URLPattern');
  return URLPattern;
}

lazyGlobal('URLPattern', makeURLPattern);
