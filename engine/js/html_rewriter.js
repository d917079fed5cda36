// HTMLRewriter, as Cloudflare Workers has it (its semantics are lol-html's).
// The tokenizer, the open-element stack, the selector matcher and the output
// are native (engine/src/api/html_rewriter.cc); this file calls the tenant's
// handlers for the events the native hands out and tells it what they did.
// The rewritten body streams: input is read only as the output is read, and
// every byte no handler changed goes out as it came.
//
// Made on first use in an isolate (lazyGlobal): few tenants rewrite HTML,
// and a function the snapshot holds uncompiled costs a cold start next to
// nothing, where the classes and functions below cost every one of them.

// Captured as the built-ins start, before any tenant code could replace them.
const ResponseGetStatus = uncurryThis(ObjectGetOwnPropertyDescriptor(Response.prototype, 'status').get);
const ResponseGetStatusText = uncurryThis(ObjectGetOwnPropertyDescriptor(Response.prototype, 'statusText').get);
const ResponseGetHeaders = uncurryThis(ObjectGetOwnPropertyDescriptor(Response.prototype, 'headers').get);
const BodyGetBody = uncurryThis(ObjectGetOwnPropertyDescriptor(Body.prototype, 'body').get);
const BodyGetBodyUsed = uncurryThis(ObjectGetOwnPropertyDescriptor(Body.prototype, 'bodyUsed').get);
const HeadersPrototypeDelete = uncurryThis(Headers.prototype.delete);
const HeadersPrototypeGet = uncurryThis(Headers.prototype.get);
const ArrayPrototypeValues = uncurryThis(Array.prototype.values);

function makeHTMLRewriter() {
  const HTML_ELEMENT = 0;
  const HTML_END_TAG = 1;
  const HTML_TEXT = 2;
  const HTML_COMMENT = 3;
  const HTML_DOCTYPE = 4;
  const HTML_END = 5;

  // Output is handed to the reader once this much is ready (or input is needed).
  const HTML_PIECE = 16 * 1024;
  // Input is handed to the native in slices of at most this much.
  const HTML_INPUT_SLICE = 64 * 1024;

  const HTML_MODE_KEEP = 0;
  const HTML_MODE_REMOVE = 1;
  const HTML_MODE_KEEP_CONTENT = 2;
  const HTML_MODE_REPLACE = 3;

  const HTML_CHARSET = /;[\t ]*charset[\t ]*=[\t ]*"?([^";\t ]+)/;

  // Whether the Content-Type names windows-1252 (latin1, iso-8859-1, ascii,
  // ...); any other charset, or none, is taken as UTF-8.
  function htmlIsWindows1252(type) {
    if (type === null) return false;
    const match = RegExpPrototypeExec(HTML_CHARSET, StringPrototypeToLowerCase(type));
    return match !== null && ArrayPrototypeIncludes(WINDOWS_1252_LABELS, match[1]);
  }

  // Text handed to before()/after()/... without { html: true } is escaped.
  function htmlEscape(text) {
    let out = '';
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      const c = StringPrototypeCharCodeAt(text, i);
      let entity;
      if (c === 0x26) entity = '&amp;';
      else if (c === 0x3C) entity = '&lt;';
      else if (c === 0x3E) entity = '&gt;';
      else if (c === 0x22) entity = '&quot;';
      else continue;
      out += StringPrototypeSlice(text, from, i) + entity;
      from = i + 1;
    }
    return from === 0 ? text : out + StringPrototypeSlice(text, from);
  }

  // The markup content(content, options) stands for.
  function htmlContent(args, what) {
    requireArgs(args.length, 1, what);
    const text = toDOMString(args[0]);
    const options = args[1];
    if (options === undefined || options === null) return htmlEscape(text);
    if (!isObject(options)) throw new TypeError(`${what}: the options must be an object`);
    return options.html ? text : htmlEscape(text);
  }

  // What lol-html refuses in a name: whitespace, '/', '>', '='.
  const HTML_NAME = /^[^\t\n\f\r />=]+$/;

  function htmlName(value, what) {
    const name = StringPrototypeToLowerCase(toDOMString(value));
    if (RegExpPrototypeExec(HTML_NAME, name) === null) throw new TypeError(`${what}: invalid name '${name}'`);
    return name;
  }

  function htmlCheckValid(state, what) {
    if (!state.valid) {
      throw new TypeError(`This ${what} is no longer valid: the objects given to a handler may only be `
        + 'used until the handler (and the promise it returned) settles');
    }
  }

  // The attribute value serialised in a start tag.
  function htmlAttributeValue(value) {
    let out = '';
    let from = 0;
    for (let i = 0; i < value.length; i++) {
      if (StringPrototypeCharCodeAt(value, i) !== 0x22) continue;
      out += StringPrototypeSlice(value, from, i) + '&quot;';
      from = i + 1;
    }
    return from === 0 ? value : out + StringPrototypeSlice(value, from);
  }

  class Element {
    #s;

    constructor(key, state) {
      if (key !== INTERNAL) throw new TypeError('Illegal constructor');
      this.#s = state;
    }

    static #state(element, what) {
      if (!isObject(element) || !(#s in element)) throw new TypeError('Illegal invocation: not an Element');
      htmlCheckValid(element.#s, 'Element');
      return element.#s;
    }

    static #find(s, name) {
      for (let i = 0; i < s.attrs.length; i++) if (s.attrs[i][0] === name) return i;
      return -1;
    }

    get tagName() {
      return Element.#state(this).tagName;
    }

    set tagName(value) {
      const s = Element.#state(this);
      s.tagName = htmlName(value, 'Element.tagName');
      s.modified = true;
      s.renamed = true;
    }

    get namespaceURI() {
      return Element.#state(this).namespaceURI;
    }

    get selfClosing() {
      return Element.#state(this).selfClosing;
    }

    get canHaveContent() {
      return Element.#state(this).canHaveContent;
    }

    get removed() {
      const s = Element.#state(this);
      return s.mode === HTML_MODE_REMOVE || s.mode === HTML_MODE_REPLACE;
    }

    get attributes() {
      const s = Element.#state(this);
      const copy = listNew();
      for (let i = 0; i < s.attrs.length; i++) copy[i] = [s.attrs[i][0], s.attrs[i][1]];
      return ArrayPrototypeValues(listToArray(copy));
    }

    getAttribute(name) {
      const s = Element.#state(this);
      requireArgs(arguments.length, 1, 'Element.getAttribute');
      const i = Element.#find(s, StringPrototypeToLowerCase(toDOMString(name)));
      return i < 0 ? null : s.attrs[i][1];
    }

    hasAttribute(name) {
      const s = Element.#state(this);
      requireArgs(arguments.length, 1, 'Element.hasAttribute');
      return Element.#find(s, StringPrototypeToLowerCase(toDOMString(name))) >= 0;
    }

    setAttribute(name, value) {
      const s = Element.#state(this);
      requireArgs(arguments.length, 2, 'Element.setAttribute');
      const key = htmlName(name, 'Element.setAttribute');
      const text = toDOMString(value);
      const i = Element.#find(s, key);
      if (i >= 0) s.attrs[i] = ObjectFreeze(listOf(key, text));
      else listPush(s.attrs, ObjectFreeze(listOf(key, text)));  // no raw form: serialised afresh
      s.modified = true;
      return this;
    }

    removeAttribute(name) {
      const s = Element.#state(this);
      requireArgs(arguments.length, 1, 'Element.removeAttribute');
      const i = Element.#find(s, StringPrototypeToLowerCase(toDOMString(name)));
      if (i >= 0) {
        const rest = listNew();
        for (let k = 0; k < s.attrs.length; k++) if (k !== i) listPush(rest, s.attrs[k]);
        s.attrs = rest;
        s.modified = true;
      }
      return this;
    }

    before(content, options) {
      const s = Element.#state(this);
      s.before += htmlContent(arguments, 'Element.before');
      return this;
    }

    after(content, options) {
      const s = Element.#state(this);
      s.after = htmlContent(arguments, 'Element.after') + s.after;
      return this;
    }

    prepend(content, options) {
      const s = Element.#state(this);
      const markup = htmlContent(arguments, 'Element.prepend');
      if (s.canHaveContent) s.prepend = markup + s.prepend;
      return this;
    }

    append(content, options) {
      const s = Element.#state(this);
      const markup = htmlContent(arguments, 'Element.append');
      if (s.canHaveContent) s.append += markup;
      return this;
    }

    setInnerContent(content, options) {
      const s = Element.#state(this);
      const markup = htmlContent(arguments, 'Element.setInnerContent');
      if (s.canHaveContent) {
        s.inner = markup;
        s.prepend = '';
        s.append = '';
      }
      return this;
    }

    replace(content, options) {
      const s = Element.#state(this);
      s.replaceWith = htmlContent(arguments, 'Element.replace');
      s.mode = HTML_MODE_REPLACE;
      return this;
    }

    remove() {
      Element.#state(this).mode = HTML_MODE_REMOVE;
      return this;
    }

    removeAndKeepContent() {
      const s = Element.#state(this);
      if (s.mode === HTML_MODE_KEEP) s.mode = HTML_MODE_KEEP_CONTENT;
      return this;
    }

    onEndTag(handler) {
      const s = Element.#state(this);
      requireArgs(arguments.length, 1, 'Element.onEndTag');
      if (typeof handler !== 'function') throw new TypeError('Element.onEndTag: the handler must be a function');
      if (!s.canHaveContent) throw new TypeError(`Element.onEndTag: <${s.tagName}> has no end tag`);
      listPush(s.endHandlers, handler);
    }
  }

  function listOf(a, b) {
    const list = listNew();
    list[0] = a;
    list[1] = b;
    return list;
  }

  class EndTag {
    #s;

    constructor(key, state) {
      if (key !== INTERNAL) throw new TypeError('Illegal constructor');
      this.#s = state;
    }

    static #state(tag) {
      if (!isObject(tag) || !(#s in tag)) throw new TypeError('Illegal invocation: not an EndTag');
      htmlCheckValid(tag.#s, 'EndTag');
      return tag.#s;
    }

    get name() {
      return EndTag.#state(this).name;
    }

    set name(value) {
      const s = EndTag.#state(this);
      s.name = htmlName(value, 'EndTag.name');
      s.renamed = true;
    }

    before(content, options) {
      const s = EndTag.#state(this);
      s.before += htmlContent(arguments, 'EndTag.before');
      return this;
    }

    after(content, options) {
      const s = EndTag.#state(this);
      s.after = htmlContent(arguments, 'EndTag.after') + s.after;
      return this;
    }

    remove() {
      EndTag.#state(this).removed = true;
      return this;
    }
  }

  // Text chunks and comments: the same edits around a piece of the document.
  // Text and Comment have constructors of their own: a class without one gets
  // V8's default `constructor(...args) { super(...args); }`, whose spread ran
  // the tenant's Array.prototype[Symbol.iterator] on [INTERNAL, state]; and
  // super() calls whatever the tenant made the class's [[Prototype]], so
  // nothing goes through it (the state is set after, by htmlChunkInit, which
  // throws for an object HtmlChunk's constructor did not make; a binding, not
  // a static a tenant could replace).
  let htmlChunkInit;
  class HtmlChunk {
    #s;

    static {
      htmlChunkInit = (chunk, state) => {
        chunk.#s = state;
      };
    }

    static state(chunk, what) {
      if (!isObject(chunk) || !(#s in chunk) || chunk.#s.what !== what) {
        throw new TypeError(`Illegal invocation: not a ${what}`);
      }
      htmlCheckValid(chunk.#s, what);
      return chunk.#s;
    }
  }

  function chunkMethods(cls, what) {
    const methods = {
      before(content, options) {
        const s = HtmlChunk.state(this, what);
        s.before += htmlContent(arguments, `${what}.before`);
        return this;
      },
      after(content, options) {
        const s = HtmlChunk.state(this, what);
        s.after = htmlContent(arguments, `${what}.after`) + s.after;
        return this;
      },
      replace(content, options) {
        const s = HtmlChunk.state(this, what);
        s.replaceWith = htmlContent(arguments, `${what}.replace`);
        s.removed = true;
        return this;
      },
      remove() {
        const s = HtmlChunk.state(this, what);
        s.removed = true;
        s.replaceWith = '';
        return this;
      },
    };
    for (const name of ['before', 'after', 'replace', 'remove']) {
      ObjectDefineProperty(cls.prototype, name, {
        value: methods[name], writable: true, configurable: true, enumerable: false,
      });
    }
    ObjectDefineProperty(cls.prototype, 'removed', {
      get() {
        return HtmlChunk.state(this, what).removed;
      },
      configurable: true,
      enumerable: true,
    });
    setToStringTag(cls.prototype, what);
  }

  class Text extends HtmlChunk {
    constructor(key, state) {
      if (key !== INTERNAL) throw new TypeError('Illegal constructor');
      super();
      htmlChunkInit(this, state);
    }

    get text() {
      return HtmlChunk.state(this, 'Text').text;
    }

    get lastInTextNode() {
      return HtmlChunk.state(this, 'Text').last;
    }
  }
  chunkMethods(Text, 'Text');

  class Comment extends HtmlChunk {
    constructor(key, state) {
      if (key !== INTERNAL) throw new TypeError('Illegal constructor');
      super();
      htmlChunkInit(this, state);
    }

    get text() {
      return HtmlChunk.state(this, 'Comment').text;
    }

    set text(value) {
      const s = HtmlChunk.state(this, 'Comment');
      s.text = toDOMString(value);
      s.changed = true;
    }
  }
  chunkMethods(Comment, 'Comment');

  class Doctype {
    #s;

    constructor(key, state) {
      if (key !== INTERNAL) throw new TypeError('Illegal constructor');
      this.#s = state;
    }

    static #state(doctype) {
      if (!isObject(doctype) || !(#s in doctype)) throw new TypeError('Illegal invocation: not a Doctype');
      htmlCheckValid(doctype.#s, 'Doctype');
      return doctype.#s;
    }

    get name() {
      return Doctype.#state(this).name;
    }

    get publicId() {
      return Doctype.#state(this).publicId;
    }

    get systemId() {
      return Doctype.#state(this).systemId;
    }
  }

  class DocumentEnd {
    #s;

    constructor(key, state) {
      if (key !== INTERNAL) throw new TypeError('Illegal constructor');
      this.#s = state;
    }

    append(content, options) {
      if (!isObject(this) || !(#s in this)) throw new TypeError('Illegal invocation: not a DocumentEnd');
      htmlCheckValid(this.#s, 'DocumentEnd');
      this.#s.append += htmlContent(arguments, 'DocumentEnd.append');
      return this;
    }
  }

  for (const cls of [Element, EndTag, Doctype, DocumentEnd]) setToStringTag(cls.prototype, cls.name);

  // A handler's function for kind, read once when it is registered; it is
  // called with the handlers object as `this`, as on Workers.
  function htmlHandler(handlers, kind, what) {
    const fn = handlers[kind];
    if (fn === undefined || fn === null) return null;
    if (typeof fn !== 'function') throw new TypeError(`${what}: handlers.${kind} must be a function`);
    return listOf(fn, handlers);
  }

  function htmlIsThenable(value) {
    return isObject(value);
  }

  class HTMLRewriter {
    #selectors = listNew();  // [selector, element, text, comments] pairs per on()
    #document = listNew();   // [doctype, comments, text, end]: lists of [function, this]
    #used = false;

    constructor() {
      for (let k = 0; k < 4; k++) this.#document[k] = listNew();
    }

    on(selector, handlers) {
      requireArgs(arguments.length, 2, 'HTMLRewriter.on');
      const text = toDOMString(selector);
      native.htmlCheckSelector(text);
      if (!isObject(handlers)) throw new TypeError('HTMLRewriter.on: the handlers must be an object');
      if (this.#selectors.length >= 1024) throw new TypeError('HTMLRewriter.on: more than 1024 selectors');
      const entry = listNew();
      entry[0] = text;
      entry[1] = htmlHandler(handlers, 'element', 'HTMLRewriter.on');
      entry[2] = htmlHandler(handlers, 'text', 'HTMLRewriter.on');
      entry[3] = htmlHandler(handlers, 'comments', 'HTMLRewriter.on');
      listPush(this.#selectors, entry);
      return this;
    }

    onDocument(handlers) {
      requireArgs(arguments.length, 1, 'HTMLRewriter.onDocument');
      if (!isObject(handlers)) throw new TypeError('HTMLRewriter.onDocument: the handlers must be an object');
      const kinds = ['doctype', 'comments', 'text', 'end'];
      const found = listNew();
      for (let k = 0; k < 4; k++) found[k] = htmlHandler(handlers, kinds[k], 'HTMLRewriter.onDocument');
      // Every onDocument() adds its handlers; they run in the order given.
      for (let k = 0; k < 4; k++) if (found[k] !== null) listPush(this.#document[k], found[k]);
      return this;
    }

    transform(response) {
      requireArgs(arguments.length, 1, 'HTMLRewriter.transform');
      if (!responseIs(response)) throw new TypeError('HTMLRewriter.transform: the argument must be a Response');
      if (BodyGetBodyUsed(response)) throw new TypeError(BODY_USED_MESSAGE);
      const headers = new Headers(ResponseGetHeaders(response));
      const windows1252 = htmlIsWindows1252(HeadersPrototypeGet(headers, 'content-type'));
      // The rewritten body's length is not known.
      HeadersPrototypeDelete(headers, 'content-length');
      const init = {
        __proto__: null, status: ResponseGetStatus(response), statusText: ResponseGetStatusText(response), headers,
      };
      const source = BodyGetBody(response);
      if (source === null) return new Response(null, init);
      // The handlers as they are now: on() calls made later (from a handler,
      // say) are for the next transform().
      const selectors = ArrayPrototypeSlice(this.#selectors);
      const documentHandlers = listNew();
      for (let k = 0; k < 4; k++) documentHandlers[k] = ArrayPrototypeSlice(this.#document[k]);
      return new Response(htmlRewriteStream(source, selectors, documentHandlers, windows1252), init);
    }
  }

  // The rewritten stream of source's bytes.
  function htmlRewriteStream(source, selectors, documentHandlers, windows1252) {
    const list = listNew();
    for (let i = 0; i < selectors.length; i++) {
      const entry = selectors[i];
      list[i * 4] = entry[0];
      list[i * 4 + 1] = entry[1] !== null;
      list[i * 4 + 2] = entry[2] !== null;
      list[i * 4 + 3] = entry[3] !== null;
    }
    let flags = 0;
    for (let k = 0; k < 4; k++) if (documentHandlers[k].length > 0) flags |= 1 << k;
    if (windows1252) flags |= 16;
    const handle = native.htmlCreate(list, flags);
    const endHandlers = { __proto__: null };
    let nextEndId = 1;
    let reader = null;
    let input = null;  // the chunk being written, in slices
    let inputAt = 0;
    let inputEnded = false;
    let done = false;

    const finish = () => {
      if (done) return;
      done = true;
      native.freeNative(handle);
    };

    const forSelectors = (indices, kind) => {
      const calls = listNew();
      for (let i = 0; i < indices.length; i++) {
        const pair = selectors[indices[i]][kind];
        if (pair !== null) listPush(calls, pair);
      }
      return calls;
    };

    // Calls each handler in turn, waiting for the promises they return, then
    // invalidates the object they were given.
    const run = async (calls, object, state) => {
      try {
        for (let i = 0; i < calls.length; i++) {
          // A promise (or any object) a handler returns is waited for.
          const result = ReflectApply(calls[i][0], calls[i][1], [object]);
          if (htmlIsThenable(result)) await result;
        }
      } finally {
        state.valid = false;
      }
    };

    const element = async (event) => {
      const attrs = listNew();
      const flat = event[3];
      for (let i = 0; i < flat.length; i += 2) {
        const attr = listOf(flat[i], flat[i + 1]);
        attr[2] = i / 2;  // its index: the native keeps its bytes for as long as it is not changed
        listPush(attrs, ObjectFreeze(attr));
      }
      const s = {
        __proto__: null,
        valid: true,
        tagName: event[2],
        attrs,
        selfClosing: event[4],
        canHaveContent: event[5],
        namespaceURI: event[6],
        modified: false,
        renamed: false,
        mode: HTML_MODE_KEEP,
        before: '',
        after: '',
        prepend: '',
        append: '',
        inner: null,
        replaceWith: '',
        endHandlers: listNew(),
      };
      await streamInternal(run(forSelectors(event[1], 1), new Element(INTERNAL, s), s));
      // A changed tag goes to the native in parts: [name, selfClosing, then per
      // attribute the index of an untouched one (whose bytes it still has) or
      // the new one as name="value"].
      let startTag = null;
      if (s.modified) {
        startTag = [s.tagName, s.selfClosing];
        for (let i = 0; i < s.attrs.length; i++) {
          const attr = s.attrs[i];
          startTag[i + 2] = attr.length > 2 ? attr[2] : `${attr[0]}="${htmlAttributeValue(attr[1])}"`;
        }
      }
      let endId = 0;
      if (s.endHandlers.length > 0) {
        endId = nextEndId++;
        endHandlers[endId] = s.endHandlers;
      }
      native.htmlResolve(handle, [s.mode, startTag, s.before, s.after, s.prepend, s.append, s.inner, s.replaceWith,
        endId, s.renamed ? s.tagName : null]);
    };

    const endTag = async (event) => {
      const handlers = endHandlers[event[1]];
      delete endHandlers[event[1]];
      const s = { __proto__: null, valid: true, name: event[2], renamed: false, removed: false, before: '', after: '' };
      const tag = new EndTag(INTERNAL, s);
      try {
        for (let i = 0; i < handlers.length; i++) {
          const result = ReflectApply(handlers[i], undefined, [tag]);
          if (htmlIsThenable(result)) await result;
        }
      } finally {
        s.valid = false;
      }
      native.htmlResolve(handle, [s.removed, s.before, s.after, s.renamed ? s.name : null]);
    };

    const chunk = async (event, cls, kind, documentKind) => {
      const what = cls === Text ? 'Text' : 'Comment';
      const s = {
        __proto__: null, what, valid: true, text: event[2], last: event[3] === true, changed: false,
        removed: false, before: '', after: '', replaceWith: '',
      };
      const calls = forSelectors(event[1], kind);
      if (event[cls === Text ? 4 : 3]) {
        const more = documentHandlers[documentKind];
        for (let i = 0; i < more.length; i++) listPush(calls, more[i]);
      }
      await streamInternal(run(calls, new cls(INTERNAL, s), s));
      if (cls === Text) native.htmlResolve(handle, [s.removed, s.before, s.after, s.replaceWith]);
      else native.htmlResolve(handle, [s.removed, s.before, s.after, s.replaceWith, s.changed ? s.text : null]);
    };

    const doctype = async (event) => {
      const s = { __proto__: null, valid: true, name: event[1], publicId: event[2], systemId: event[3] };
      const calls = documentHandlers[0];
      await streamInternal(run(calls, new Doctype(INTERNAL, s), s));
      native.htmlResolve(handle, []);
    };

    const documentEnd = async () => {
      const s = { __proto__: null, valid: true, append: '' };
      const calls = documentHandlers[3];
      await streamInternal(run(calls, new DocumentEnd(INTERNAL, s), s));
      native.htmlResolve(handle, [s.append]);
    };

    const dispatch = (event) => {
      switch (event[0]) {
        case HTML_ELEMENT: return element(event);
        case HTML_END_TAG: return endTag(event);
        case HTML_TEXT: return chunk(event, Text, 2, 2);
        case HTML_COMMENT: return chunk(event, Comment, 3, 1);
        case HTML_DOCTYPE: return doctype(event);
        default: return documentEnd();
      }
    };

    // Makes output until there is a piece for the reader, or the end.
    const produce = async (controller) => {
      for (;;) {
        // Output goes to the reader in pieces of some size, not one per event.
        const piece = native.htmlTake(handle, HTML_PIECE);
        if (piece !== null) {
          readableStreamControllerEnqueue(controller, piece);
          return;
        }
        if (native.htmlFinished(handle)) {
          finish();
          readableStreamControllerClose(controller);
          return;
        }
        const event = native.htmlNext(handle);
        if (event === 0) continue;  // the native did its share; JavaScript may be interrupted here
        if (event !== null) {
          await streamInternal(dispatch(event));
          continue;
        }
        if (inputEnded) {
          // null after the end of the input: the document is complete.
          const last = native.htmlTake(handle);
          if (last !== null) readableStreamControllerEnqueue(controller, last);
          if (!native.htmlFinished(handle)) throw new TypeError('HTMLRewriter: the document did not end');
          finish();
          readableStreamControllerClose(controller);
          return;
        }
        // The native holds a slice of a chunk at a time, never a whole large chunk.
        if (input !== null) {
          const length = TypedArrayPrototypeGetLength(input);
          if (inputAt < length) {
            const end = MathMin(length, inputAt + HTML_INPUT_SLICE);
            native.htmlWrite(handle, TypedArrayPrototypeSubarray(input, inputAt, end));
            inputAt = end;
            continue;
          }
          input = null;
        }
        // Before waiting for input, the reader gets what there is.
        const some = native.htmlTake(handle, 0);
        if (some !== null) {
          readableStreamControllerEnqueue(controller, some);
          return;
        }
        if (reader === null) reader = readableStreamGetReader(source);
        const result = await readableStreamReaderRead(reader);
        if (result.done) {
          inputEnded = true;
          native.htmlEnd(handle);
          continue;
        }
        const bytes = result.value;
        if (!isArrayBuffer(bytes) && !ArrayBufferIsView(bytes)) {
          throw new TypeError('HTMLRewriter: the body\'s chunks must be ArrayBuffers or ArrayBufferViews');
        }
        input = viewBytes(bytes);
        inputAt = 0;
      }
    };

    const pull = async (controller) => {
      try {
        await streamInternal(produce(controller));
      } catch (error) {
        finish();
        streamMarkHandled(readableStreamCancel(source, error));
        throw error;
      }
    };

    return readableByteStreamCreate({
      __proto__: null,
      pull(controller) {
        if (done) return undefined;
        return streamInternal(pull(controller));
      },
      cancel(reason) {
        finish();
        return readableStreamCancel(source, reason);
      },
    });
  }

  setToStringTag(HTMLRewriter.prototype, 'HTMLRewriter');
  return HTMLRewriter;
}

lazyGlobal('HTMLRewriter', makeHTMLRewriter);
