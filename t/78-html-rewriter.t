#!/usr/bin/perl
# Issue 16: HTMLRewriter as Cloudflare Workers has it (lol-html's semantics):
# each selector kind, each handler kind, the element/text/comment/end-tag
# edits, async handlers, objects that die with their handler, byte-exact
# pass-through of markup no handler changed (a nasty document fed in 1-byte
# pieces through a ReadableStream), head injection, and Cloudflare's "Rewrite
# links" example verbatim, fetching its page from an nginx server {}.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Encode qw(decode);

my $origin = Dispatch::Test::free_port;
my $t = Dispatch::Test->new(
    http => qq{
    dispatch_fetch_allow 127.0.0.1/32;
    server {
        listen 127.0.0.1:$origin;
        location / { root %%PREFIX%%/www; types { text/html html; image/png png; } }
    }},
    server => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch_cpu_limit 5s; dispatch api $script; }
    },
);
my ($T, $F) = (JSON::PP::true, JSON::PP::false);

# rw(html, setup, pieceSize): the text of new Response(html, streamed in
# pieces of pieceSize bytes) transformed by setup(new HTMLRewriter()).
my $HELPERS = q{
    function body(bytes, size) {
      let i = 0;
      return new ReadableStream({ pull(c) {
        if (i >= bytes.length) { c.close(); return; }
        c.enqueue(bytes.slice(i, i + size)); i += size;
      } });
    }
    const utf8 = (text) => new TextEncoder().encode(text);
    async function rwBytes(bytes, setup, size = 1 << 20) {
      const res = setup(new HTMLRewriter()).transform(new Response(body(bytes, size), { headers: { 'content-type': 'text/html' } }));
      return new Uint8Array(await res.arrayBuffer());
    }
    const rw = async (html, setup, size) => new TextDecoder().decode(await rwBytes(utf8(html), setup, size));
    // The ids of the elements selector matches in html, in document order.
    async function ids(html, selector) {
      const seen = [];
      await rw(html, (r) => r.on(selector, { element(e) { seen.push(e.getAttribute('id')); } }));
      return seen;
    }
};
sub checks { my ($name, $code) = @_; return $t->run_checks('api', $name, $HELPERS . $code) }

# ---- selectors ----

my $DOC = q{<div id=d1 class="a b" lang=en-US data-x="Hello World">}
    . q{<p id=p1 class=a>one</p><p id=p2 title=x>two</p><span id=s1 class=b></span><p id=p3 class="c a">three</p>}
    . q{<section id=sec><div id=d2 lang=en><p id=p4>deep</p></div></section></div>}
    . q{<ul id=u><li id=l1>a<li id=l2>b<li id=l3>c<li id=l4>d</ul><img id=i1 src=a.png alt=""><INPUT ID=in1 TYPE=checkbox checked>};
my $got = checks('selectors', q{
    const doc = } . encode_json($DOC) . q{;
    const cases = ['*', 'p', 'P', '.a', '.a.b', '#p2', '[title]', '[lang=en]', '[lang|=en]', '[class~=a]',
      '[data-x^=Hello]', '[data-x$=World]', '[data-x*="o W"]', '[data-x="hello world" i]', '[data-x="hello world" s]',
      'li:nth-child(2n+1)', 'li:nth-child(even)', 'li:nth-child(3)', 'p:first-child', 'p:nth-of-type(2)',
      'p:first-of-type', 'p:not(.a)', 'div p', 'div > p', 'section > div > p', 'div p.a', 'p, img', 'input[type=checkbox]',
      'li:nth-child(-n+2)', ':not(p):not(li)'];
    export default { fetch: () => results(Object.fromEntries(cases.map((s) => [s, () => ids(doc, s)]))) };
});
my %expect = (
    '*' => [qw(d1 p1 p2 s1 p3 sec d2 p4 u l1 l2 l3 l4 i1 in1)],
    'p' => [qw(p1 p2 p3 p4)],
    'P' => [qw(p1 p2 p3 p4)],
    '.a' => [qw(d1 p1 p3)],
    '.a.b' => [qw(d1)],
    '#p2' => [qw(p2)],
    '[title]' => [qw(p2)],
    '[lang=en]' => [qw(d2)],
    '[lang|=en]' => [qw(d1 d2)],
    '[class~=a]' => [qw(d1 p1 p3)],
    '[data-x^=Hello]' => [qw(d1)],
    '[data-x$=World]' => [qw(d1)],
    '[data-x*="o W"]' => [qw(d1)],
    '[data-x="hello world" i]' => [qw(d1)],
    '[data-x="hello world" s]' => [],
    'li:nth-child(2n+1)' => [qw(l1 l3)],
    'li:nth-child(even)' => [qw(l2 l4)],
    'li:nth-child(3)' => [qw(l3)],
    'p:first-child' => [qw(p1 p4)],
    'p:nth-of-type(2)' => [qw(p2)],
    'p:first-of-type' => [qw(p1 p4)],
    'p:not(.a)' => [qw(p2 p4)],
    'div p' => [qw(p1 p2 p3 p4)],
    'div > p' => [qw(p1 p2 p3 p4)],
    'section > div > p' => [qw(p4)],
    'div p.a' => [qw(p1 p3)],
    'p, img' => [qw(p1 p2 p3 p4 i1)],
    'input[type=checkbox]' => [qw(in1)],
    'li:nth-child(-n+2)' => [qw(l1 l2)],
    ':not(p):not(li)' => [qw(d1 s1 sec d2 u i1 in1)],
);
is_deeply $got->{$_}, $expect{$_}, "selector '$_' matches what CSS says" for sort keys %expect;

$got = checks('bad-selectors', q{
    const bad = ['', 'p +', 'a + b', 'a ~ b', 'p:hover', 'p:nth-last-child(1)', '[x', '[x=]', 'p >', '> p', '#1a',
      'p:nth-child(x)', ':not(a b)', 'p,,a', '[x~~=y]'];
    export default { fetch: () => results(Object.fromEntries(bad.map((s) => [s, () => { new HTMLRewriter().on(s, {}); return 'accepted'; }]))) };
});
like $got->{$_}, qr/^threw TypeError: Invalid selector/, "an invalid or unsupported selector '$_' is a TypeError at on()"
    for ('', 'p +', 'a + b', 'a ~ b', 'p:hover', 'p:nth-last-child(1)', '[x', '[x=]', 'p >', '> p', '#1a',
         'p:nth-child(x)', ':not(a b)', 'p,,a', '[x~~=y]');

# ---- handlers and edits ----

$got = checks('handlers', q{
    export default { fetch: () => results({
      elementEdits: () => rw('<div id=a class=x>in</div><p>keep</p>', (r) => r.on('div', { element(e) {
        e.setAttribute('data-new', 'a"b'); e.removeAttribute('class'); e.tagName = 'section';
        e.before('<b>', { html: true }); e.after('</b>', { html: true }); e.prepend('<1>'); e.append('[2]');
      } })),
      attributes: async () => { let out; await rw('<a HREF="/x" Target=_blank rel=\'no"op\'>', (r) => r.on('a', { element(e) {
        out = [[...e.attributes], e.hasAttribute('href'), e.hasAttribute('nope'), e.getAttribute('TARGET'), e.tagName, e.namespaceURI]; } })); return out; },
      svgNamespace: async () => { const ns = []; await rw('<svg><circle/><foreignObject><p>x</p></foreignObject></svg>', (r) => r.on('*', { element(e) { ns.push(e.tagName + ' ' + e.namespaceURI); } })); return ns; },
      replace: () => rw('<p>a<b>b</b></p><i>i</i>', (r) => r.on('p', { element(e) { e.replace('<x>'); } })),
      replaceHtml: () => rw('<p>a<b>b</b></p><i>i</i>', (r) => r.on('p', { element(e) { e.replace('<hr>', { html: true }); } })),
      remove: () => rw('1<p>a<b>b</b></p>2<img id=x>3', (r) => r.on('p, img', { element(e) { e.remove(); } })),
      insideRemoved: async () => { const seen = []; const out = await rw('<div class=ad><a href=1>x</a>t</div><a href=2>y</a>', (r) => r.on('div.ad', { element(e) { e.remove(); } })
        .on('a', { element(e) { seen.push(e.getAttribute('href')); e.setAttribute('seen', ''); }, text(t) { if (t.text) seen.push(t.text); } })); return [out, seen]; },
      removeKeep: () => rw('<div><p>a<b>b</b></p></div>', (r) => r.on('p', { element(e) { e.removeAndKeepContent(); } })),
      removed: async () => { const seen = []; await rw('<p>x</p>', (r) => r.on('p', { element(e) { seen.push(e.removed); e.remove(); seen.push(e.removed); } })); return seen; },
      innerContent: () => rw('<div>old <b>stuff</b></div><script>old()</script>', (r) => r.on('div', { element(e) { e.setInnerContent('<new>'); } })
        .on('script', { element(e) { e.setInnerContent('fresh()', { html: true }); } })),
      selfClosing: () => rw('<br/><img a=1 /><svg><path d=x /></svg>', (r) => r.on('br', { element(e) { e.setAttribute('x', '1'); } })
        .on('img', { element(e) { e.removeAttribute('a'); } }).on('path', { element(e) { e.setAttribute('d', 'y'); } })),
      voidEdits: () => rw('<br><img src=a>', (r) => r.on('img', { element(e) { e.append('x'); e.prepend('y'); e.after('!'); } })),
      endTag: () => rw('<p>a</p><div>b</DIV >', (r) => r.on('p, div', { element(e) { e.onEndTag((end) => {
        end.before('[before ' + end.name + ']'); end.after('[after]'); if (end.name === 'div') end.name = 'section'; }); } })),
      endTagQuoted: () => rw("<em title='>'>x</em title=\"</em>\" >y", (r) => r.on('em', { element(e) { e.onEndTag((end) => { end.before('|'); end.after('|'); }); } }), 1),
      unquotedSlash: async () => { const seen = []; await rw('<a href=x/>y</a><a href=x/ >z</a><a href=x />w</a>', (r) => r.on('a', { element(e) { seen.push(e.getAttribute('href'), e.selfClosing); } })); return seen; },
      endTagRemove: () => rw('<p>a</p>', (r) => r.on('p', { element(e) { e.onEndTag((end) => { end.remove(); }); } })),
      endTagOnVoid: async () => { let out; await rw('<br>', (r) => r.on('br', { element(e) { try { e.onEndTag(() => {}); out = 'accepted'; } catch (x) { out = x.name; } } })); return out; },
      text: async () => { const seen = []; const out = await rw('<p>hello <b>big</b> world</p><i>no</i>', (r) => r.on('p', { text(t) {
        seen.push([t.text, t.lastInTextNode]); if (t.text === 'big') t.replace('<small>'); } })); return [out, seen]; },
      textBeforeAfterRemove: () => rw('<p>a</p><p>b</p>', (r) => r.on('p', { text(t) { if (t.text === 'a') { t.before('<', { html: true }); t.after('>'); } else if (t.text === 'b') t.remove(); } })),
      comments: async () => { const seen = []; const out = await rw('<div><!-- one --><!--two--></div><!--out-->', (r) => r.on('div', { comments(c) {
        seen.push(c.text); if (c.text === 'two') c.text = 'TWO'; else { c.before('[', { html: true }); c.after(']'); } } })); return [out, seen]; },
      commentRemove: () => rw('a<!--x-->b', (r) => r.onDocument({ comments(c) { c.remove(); } })),
      doctype: async () => { let seen; const out = await rw('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd"><p>', (r) => r.onDocument({ doctype(d) { seen = [d.name, d.publicId, d.systemId]; } })); return [out, seen]; },
      doctypeBare: async () => { let seen; await rw('<!doctype html>', (r) => r.onDocument({ doctype(d) { seen = [d.name, d.publicId, d.systemId]; } })); return seen; },
      documentText: async () => { const seen = []; await rw('a<p>b</p>c', (r) => r.onDocument({ text(t) { if (t.text) seen.push(t.text); } })); return seen; },
      onDuringTransform: async () => { const seen = []; const r = new HTMLRewriter();
        r.on('p', { element() { seen.push('p'); r.on('p', { element() { seen.push('late'); } }).onDocument({ comments() { seen.push('late comment'); } }); } })
          .onDocument({ comments() { seen.push('comment'); } });
        await r.transform(new Response('<p><!--c--><p>')).text(); return seen; },
      twoDocuments: async () => { const seen = []; await rw('<!--c-->', (r) => r.onDocument({ comments() { seen.push(1); } }).onDocument({ comments() { seen.push(2); } })); return seen; },
      documentEnd: () => rw('<p>x</p>', (r) => r.onDocument({ end(end) { end.append('<!-- done -->', { html: true }); end.append('<&>'); } })),
      handlerThis: async () => { const h = { seen: 0, element() { this.seen++; } }; await rw('<p><p>', (r) => r.on('p', h)); return h.seen; },
      order: async () => { const seen = []; await rw('<p class=a>x</p>', (r) => r.on('p', { element() { seen.push('first'); } }).on('.a', { element() { seen.push('second'); } })); return seen; },
      escaping: () => rw('<p></p>', (r) => r.on('p', { element(e) { e.setInnerContent('<script>alert("x") & \'y\'</script>'); } })),
      headers: async () => { const res = new HTMLRewriter().transform(new Response('<p>x</p>', { status: 201, statusText: 'Made', headers: { 'content-type': 'text/html', 'content-length': '8', 'x-a': 'b' } }));
        return [res.status, res.statusText, res.headers.get('x-a'), res.headers.get('content-length'), await res.text()]; },
      notResponse: () => new HTMLRewriter().transform('<p>'),
      usedBody: async () => { const r = new Response('<p>'); await r.text(); return new HTMLRewriter().transform(r); },
      nullBody: async () => { const res = new HTMLRewriter().transform(new Response(null, { status: 204 })); return [res.status, res.body]; },
    }) };
});
is $got->{elementEdits}, '<b><section id=a data-new="a&quot;b">&lt;1&gt;in[2]</section></b><p>keep</p>',
    'setAttribute, removeAttribute, tagName, before/after (html) and prepend/append (escaped) on an element';
is_deeply $got->{attributes}, [[['href', '/x'], ['target', '_blank'], ['rel', 'no"op']], $T, $F, '_blank', 'a', 'http://www.w3.org/1999/xhtml'],
    'attributes (names lower-cased, values as written), hasAttribute, getAttribute (case-insensitive), tagName, namespaceURI';
is_deeply $got->{svgNamespace}, ['svg http://www.w3.org/2000/svg', 'circle http://www.w3.org/2000/svg',
    'foreignobject http://www.w3.org/2000/svg', 'p http://www.w3.org/1999/xhtml'], 'SVG elements carry the SVG namespace; foreignObject content is HTML';
is $got->{replace}, '&lt;x&gt;<i>i</i>', 'replace() puts escaped text in place of the element and its content';
is $got->{replaceHtml}, '<hr><i>i</i>', 'replace() with { html: true } inserts markup';
is $got->{remove}, '123', 'remove() drops the element with its content (and a void element)';
is_deeply $got->{insideRemoved}, ['<a href=2 seen="">y</a>', ['1', 'x', '2', 'y']], 'handlers still see what a removed element held (as lol-html), and their edits go with it';
is $got->{removeKeep}, '<div>a<b>b</b></div>', 'removeAndKeepContent() drops the tags and keeps the content';
is_deeply $got->{removed}, [$F, $T], 'element.removed tells whether it was removed';
is $got->{innerContent}, '<div>&lt;new&gt;</div><script>fresh()</script>', 'setInnerContent() replaces the content, escaped or as html (raw text elements too)';
is $got->{selfClosing}, '<br x="1" /><img/><svg><path d="y" /></svg>', 'a changed self-closing tag is written as lol-html writes it';
is $got->{voidEdits}, '<br><img src=a>!', 'prepend/append do nothing on a void element; after() goes right after it';
is $got->{endTag}, '<p>a[before p]</p>[after]<div>b[before div]</section>[after]', 'onEndTag: before, after and renaming the end tag';
is $got->{endTagQuoted}, "<em title='>'>x|</em title=\"</em>\" >|y", 'a ">" inside a quoted attribute of a start or end tag does not end it';
is_deeply $got->{unquotedSlash}, ['x/', $F, 'x/', $F, 'x', $T], 'a "/" is part of an unquoted value; after whitespace and right before ">" it makes the tag self-closing';
is $got->{endTagRemove}, '<p>a', 'onEndTag: remove() drops the end tag only';
is $got->{endTagOnVoid}, 'TypeError', 'onEndTag on an element without an end tag is a TypeError';
is_deeply $got->{text}, ['<p>hello <b>&lt;small&gt;</b> world</p><i>no</i>', [['hello ', $F], ['', $T], ['big', $F], ['', $T], [' world', $F], ['', $T]]],
    'text handlers see every text chunk inside the matched element (lastInTextNode at each node\'s end) and can replace them';
is $got->{textBeforeAfterRemove}, '<p><a&gt;</p><p></p>', 'text chunks: before/after/remove';
is_deeply $got->{comments}, ['<div>[<!-- one -->]<!--TWO--></div><!--out-->', [' one ', 'two']], 'comment handlers: text get/set, before/after; only inside the element';
is $got->{commentRemove}, 'ab', 'document comment handler: remove()';
is_deeply $got->{doctype}, ['<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd"><p>',
    ['html', '-//W3C//DTD XHTML 1.0 Strict//EN', 'http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd']], 'doctype handler: name, publicId, systemId; the doctype passes through';
is_deeply $got->{doctypeBare}, ['html', undef, undef], 'a doctype without ids has null publicId and systemId';
is_deeply $got->{documentText}, ['a', 'b', 'c'], 'a document text handler sees all text';
is_deeply $got->{onDuringTransform}, ['p', 'comment', 'p'], 'on() and onDocument() called during a transform do not change it';
is_deeply $got->{twoDocuments}, [1, 2], 'handlers of every onDocument() call run, in order';
is $got->{documentEnd}, '<p>x</p><!-- done -->&lt;&amp;&gt;', 'the end handler appends to the document';
is $got->{handlerThis}, 2, 'handlers are called as methods of the handlers object';
is_deeply $got->{order}, ['first', 'second'], 'handlers for one element run in the order on() registered them';
is $got->{escaping}, '<p>&lt;script&gt;alert(&quot;x&quot;) &amp; \'y\'&lt;/script&gt;</p>', 'content inserted as text is HTML-escaped';
is_deeply $got->{headers}, [201, 'Made', 'b', undef, '<p>x</p>'], 'transform keeps status, statusText and headers, and drops Content-Length';
like $got->{notResponse}, qr/^threw TypeError/, 'transform of a non-Response is a TypeError';
like $got->{usedBody}, qr/^threw TypeError/, 'transform of a used body is a TypeError';
is_deeply $got->{nullBody}, [204, undef], 'a response without a body stays without one';

# ---- async handlers; objects die with their handler; exceptions ----

$got = checks('async', q{
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    export default { fetch: () => results({
      asyncElement: () => rw('<a id=1></a><a id=2></a>', (r) => r.on('a', { async element(e) { await sleep(5); e.setAttribute('late', e.getAttribute('id')); } })),
      asyncOrder: async () => { const seen = []; await rw('<p>t</p><!--c-->', (r) => r.on('p', { async element() { await sleep(10); seen.push('element'); }, async text(t) { if (t.text) seen.push('text ' + t.text); } })
        .onDocument({ async comments() { await sleep(1); seen.push('comment'); }, async end() { seen.push('end'); } })); return seen; },
      asyncEndTag: () => rw('<p>x</p>', (r) => r.on('p', { element(e) { e.onEndTag(async (end) => { await sleep(5); end.after('!'); }); } })),
      stale: async () => { let kept; await rw('<p>x</p>', (r) => r.on('p', { element(e) { kept = e; } })); try { kept.setAttribute('a', 'b'); return 'accepted'; } catch (x) { return x.name + ': ' + x.message; } },
      staleText: async () => { let kept; await rw('<p>x</p>', (r) => r.on('p', { text(t) { kept = t; } })); try { return kept.text; } catch (x) { return x.name; } },
      throws: async () => { try { await rw('<p>x</p>', (r) => r.on('p', { element() { throw new RangeError('mine'); } })); return 'no error'; } catch (x) { return x.name + ': ' + x.message; } },
      rejects: async () => { try { await rw('<p>x</p>', (r) => r.on('p', { async element() { await sleep(1); throw new Error('later'); } })); return 'no error'; } catch (x) { return x.message; } },
      notFunction: () => new HTMLRewriter().on('p', { element: 42 }),
      impliedEnds: async () => ({
        aInA: await ids('<a id=a1>1<a id=a2>2</a>', 'a a'),
        bothA: await ids('<a id=a1>1<a id=a2>2</a>', 'a'),
        hInH: await ids('<h1 id=h1>x<h2 id=h2>y</h2>', 'h1 h2'),
        buttonInButton: await ids('<button id=b1><button id=b2>', 'button button'),
        liInLi: await ids('<ul><li id=l1>a<li id=l2>b<ul><li id=l3>c</ul></ul>', 'li li'),
        pInP: await ids('<p id=p1>a<p id=p2>b<div><p id=p3></div>', 'p p, p div'),
        tdInTd: await ids('<table><tr><td id=c1>1<td id=c2>2<tr id=r2><td id=c3>3</table>', 'td td, tr tr, td tr'),
        aInTd: await ids('<a id=o><table><tr><td><a id=i>x</a></td></tr></table></a>', 'a a'),
      }),
      illegal: () => { const E = Object.getPrototypeOf(new HTMLRewriter()); return typeof HTMLRewriter === 'function' && E.constructor === HTMLRewriter; },
      tags: async () => { const tags = [Object.prototype.toString.call(new HTMLRewriter())];
        await rw('<p>t<!--c--></p>', (r) => r.on('p', { element(e) { tags.push(String(e)); }, text(t) { tags.push(String(t)); }, comments(c) { tags.push(String(c)); } }));
        return [...new Set(tags)]; },
      noConstructing: () => { let element; return rw('<p>', (r) => r.on('p', { element(e) { element = e; } })).then(() => new element.constructor()); },
      subclass: () => { class Mine extends HTMLRewriter { constructor() { super(); this.on('p', { element(e) { e.setAttribute('x', '1'); } }); } } return new Mine().transform(new Response('<p>')).text(); },
    }) };
});
is $got->{asyncElement}, '<a id=1 late="1"></a><a id=2 late="2"></a>', 'an async element handler is waited for before its tag goes out';
is_deeply $got->{asyncOrder}, ['element', 'text t', 'comment', 'end'], 'async handlers run one at a time, in document order';
is $got->{asyncEndTag}, '<p>x</p>!', 'an async end tag handler is waited for';
like $got->{stale}, qr/^TypeError: This Element is no longer valid/, 'an Element used after its handler returned is a TypeError';
is $got->{staleText}, 'TypeError', 'a Text chunk used after its handler returned is a TypeError';
is $got->{throws}, 'RangeError: mine', 'an exception in a handler errors the body stream with it';
is $got->{rejects}, 'later', 'a rejected handler promise errors the body stream with its reason';
like $got->{notFunction}, qr/^threw TypeError/, 'a handler that is not a function is a TypeError at on()';
is $got->{illegal}, $T, 'HTMLRewriter is a constructor';
is_deeply $got->{impliedEnds}, { aInA => [], bothA => ['a1', 'a2'], hInH => [], buttonInButton => [], liInLi => ['l3'],
    pInP => [], tdInTd => [], aInTd => ['i'] },
    'implied end tags: an a, a heading, a button, an li, a p, a cell or row closes the open one as a browser would (a cell keeps its own link scope)';
is_deeply $got->{tags}, ['[object HTMLRewriter]', '[object Element]', '[object Text]', '[object Comment]'], 'the toStringTags of HTMLRewriter, Element, Text and Comment';
like $got->{noConstructing}, qr/^threw TypeError: Illegal constructor/, 'Element cannot be constructed by a script';
is $got->{subclass}, '<p x="1">', 'HTMLRewriter can be subclassed';

# ---- byte-exact pass-through ----

my $NASTY = join '',
    "\xEF\xBB\xBF<!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\r\n  \"http://www.w3.org/TR/html4/strict.dtd\">\r\n",
    "<html LANG=fr><head><meta charset=utf-8><title>a &amp; b < c </title >\n",
    "<style>p > a { color: red } /* </p> <!-- */ a[href^='x'] {}</style>\n",
    "<script type=\"module\">if (a < b && c > d) { document.write(\"</div>\"); } // <!-- </scriptx> '</script' </script\t>\n",
    "<!-- a -- b --><!----><!--><!---><!-- bang --!><!-- - -- -> --->\n",
    "<? xml version='1.0' ?><!ELEMENT x><![CDATA[ cdata <b> ]]>< /a></ 3></><!doctypex>\n",
    "</head><body><a   href = 'x\"y'  data-x=unq'uoted CLASS=\"A  B\" checked/><DIV\tid=x\n>caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x82\xAC</DiV>\n",
    "<p/ class=a><b id=1 id=2 ID=3>dup</b><i title=\"\">a < b <3 <<>> &nbsp;&#x41;& </i></span></p></p>\n",
    "<ul><li>one<li>two<li><ul><li>nested</ul></ul><dl><dt>t<dd>d</dl><table><tr><td>1<td>2<tr><td>3</table>\n",
    "<svg viewBox='0 0 1 1'><path d='M0 0'/><![CDATA[ <svg-cdata> ]]><style>svg > rect {}</style><foreignObject><p>html</foreignObject></svg>\n",
    "<textarea>\n<b>not bold</b> </textare </textarea><xmp><i></xmp><iframe><p></iframe><noscript><p>ns</noscript>\n",
    "<select><option>a<option>b<optgroup><option>c</select><img src=x alt='<p>'/><input value=\"&quot;>\">\n",
    "<em title='>'>x</em title=\"</em>\" ><a href=x/>y</a><a href=x/ >z</a>\n",
    "<a href=\"unterminated>text</a>\n",
    "<plaintext><b>anything</b></plaintext> and <!-- even this\n";
$got = checks('passthrough', q{
    const input = Uint8Array.from(atob('} . encode_base64($NASTY, '') . q{'), (c) => c.charCodeAt(0));
    const same = (a) => a.length === input.length && a.every((x, i) => x === input[i]);
    const diff = (a) => { let i = 0; while (i < a.length && a[i] === input[i]) i++; return same(a) ? 'same' : `differs at ${i}: ${new TextDecoder().decode(a.slice(i, i + 40))}`; };
    // Handlers everywhere that look at everything and change nothing.
    const looking = (r) => r.on('*', { element(e) { [...e.attributes]; e.tagName; if (e.canHaveContent) e.onEndTag(() => {}); }, text(t) { t.text; }, comments(c) { c.text; } })
      .onDocument({ doctype(d) { d.name; }, comments(c) { c.text; }, text(t) { t.text; }, end() {} });
    export default { fetch: () => results({
      none1: async () => diff(await rwBytes(input, (r) => r, 1)),
      none7: async () => diff(await rwBytes(input, (r) => r, 7)),
      whole: async () => diff(await rwBytes(input, (r) => r)),
      looking1: async () => diff(await rwBytes(input, looking, 1)),
      looking3: async () => diff(await rwBytes(input, looking, 3)),
      lookingWhole: async () => diff(await rwBytes(input, looking)),
      textSeen: async () => { let all = ''; await rwBytes(input, (r) => r.on('script', { text(t) { all += t.text; } }), 1); return all; },
      titleText: async () => { let all = ''; await rwBytes(input, (r) => r.on('title', { text(t) { all += t.text; } }), 2); return all; },
      scriptEscapes: async () => { const seen = []; const doc = '<script><!--<script>a</script>--></script><p>1</p><script><!-- x --></script><p>2</p>'
          + '<script>/* <!-- */ </script><p>3</p><script><!--<script></script --></script><p>4</p><script><!--<SCRIPT>x</SCRIPT>y--></script><p>5</p>';
        for (const size of [1, 2, 1000]) {
          const texts = []; let text = '';
          const out = await rw(doc, (r) => r.on('script', { text(t) { text += t.text; if (t.lastInTextNode) { texts.push(text); text = ''; } } }), size);
          seen.push([out === doc, texts]);
        }
        return seen; },
      afterPlaintext: async () => { const tags = []; await rwBytes(input, (r) => r.on('b', { element(e) { tags.push(e.getAttribute('id')); } }), 5); return tags; },
      randomPieces: async () => {
        // Pieces of 1 to 13 bytes, from a fixed seed: every boundary falls somewhere.
        let seed = 7;
        const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 13 + 1;
        const out = [];
        for (let round = 0; round < 20; round++) {
          let i = 0;
          const stream = new ReadableStream({ pull(c) { if (i >= input.length) { c.close(); return; } const n = random(); c.enqueue(input.slice(i, i + n)); i += n; } });
          const res = looking(new HTMLRewriter()).transform(new Response(stream));
          out.push(diff(new Uint8Array(await res.arrayBuffer())));
        }
        return out.filter((d) => d !== 'same');
      },
      edited: async () => new TextDecoder('utf-8', { ignoreBOM: true }).decode(await rwBytes(input, (r) => r.on('div#x', { element(e) { e.setAttribute('id', 'y'); } }), 1)),
    }) };
});
is $got->{$_}, 'same', "untouched markup passes through byte for byte ($_)" for qw(none1 none7 whole looking1 looking3 lookingWhole);
is_deeply $got->{randomPieces}, [], 'and in 20 rounds of random pieces of 1 to 13 bytes';
is $got->{textSeen}, "if (a < b && c > d) { document.write(\"</div>\"); } // <!-- </scriptx> '</script' ",
    'script contents are one text node that ends only at </script followed by whitespace, / or >';
is $got->{titleText}, 'a &amp; b < c ', 'title is RCDATA: its text is raw, up to </title';
my @scripts = ('<!--<script>a</script>-->', '<!-- x -->', '/* <!-- */ ', '<!--<script></script -->', '<!--<SCRIPT>x</SCRIPT>y-->');
is_deeply $got->{scriptEscapes}, [map { [$T, \@scripts] } 1 .. 3],
    'script data follows the escaped and double-escaped states: "<!--<script>" hides the next "</script>" (in 1-, 2-byte and whole pieces)';
is_deeply $got->{afterPlaintext}, ['1'], 'nothing after <plaintext> is a tag';
(my $edited = $NASTY) =~ s/<DIV\tid=x\n>/<div id="y">/;
is $got->{edited}, decode('UTF-8', $edited), 'an edited tag is re-serialised and everything around it stays byte for byte';

# ---- windows-1252 documents ----

$got = checks('latin1', q{
    // "<p title='d\xE9j\xE0'>caf\xE9 \x80 5</p>" in windows-1252
    const bytes = Uint8Array.from([...`<p title='d\xE9j\xE0'>caf\xE9 \x80 5</p><i>`].map((c) => c.charCodeAt(0)));
    async function run(type) {
      const seen = [];
      const res = new HTMLRewriter().on('p', {
        element(e) { seen.push(e.getAttribute('title')); e.setAttribute('data-x', 'naïve ☃ €'); },
        text(t) { if (t.text) seen.push(t.text); },
      }).on('i', { element(e) { e.append('é<'); } }).transform(new Response(bytes, { headers: { 'content-type': type } }));
      const out = new Uint8Array(await res.arrayBuffer());
      return [seen, Array.from(out, (b) => b.toString(16).padStart(2, '0')).join('')];
    }
    export default { fetch: () => results({
      latin1: () => run('text/html; charset=ISO-8859-1'),
      quoted: () => run('text/html;charset="windows-1252"'),
      utf8: () => run('text/html; charset=utf-8'),
    }) };
});
my $hex = sub { unpack 'H*', $_[0] };
my $out1252 = $hex->("<p title='d\xE9j\xE0' data-x=\"na\xEFve &#9731; \x80\">caf\xE9 \x80 5</p><i>\xE9&lt;");
is_deeply $got->{latin1}, [["d\x{e9}j\x{e0}", "caf\x{e9} \x{20ac} 5"], $out1252],
    'charset=ISO-8859-1: handlers get windows-1252 decoded, and what they insert is encoded to it (a character reference where it has none)';
is_deeply $got->{quoted}, $got->{latin1}, 'a quoted charset=windows-1252 is the same';
is $got->{utf8}[1], $hex->("<p title='d\xE9j\xE0' data-x=\"na\xC3\xAFve \xE2\x98\x83 \xE2\x82\xAC\">caf\xE9 \x80 5</p><i>\xC3\xA9&lt;"),
    'charset=utf-8: what handlers insert is UTF-8, and the other bytes are untouched';

# ---- tag soup: the same tokens whatever the pieces ----

$got = checks('soup', q{
    const parts = ['<', '>', '</', '<!--', '-->', '--!>', '<!', '<?', '/>', '/', '=', '"', "'", ' ', '\n', '\t', '-', '!', '&amp;',
      'a', 'div', 'p', 'li', 'b', 'script', 'SCRIPT', 'style', 'title', 'textarea', 'svg', 'math', 'x', 'id', 'class',
      '<![CDATA[', ']]>', '<!DOCTYPE html>', 'é', '😀', 'text', '<p>', '</p>', '<div class="a b">', '</div>', '<script>', '</script>',
      '<svg>', '</svg>', '<br/>', '<li>', '<table><tr><td>'];
    let seed = 12345;
    const random = (n) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    const soup = () => { let s = ''; while (s.length < 6000) s += parts[random(parts.length)]; return utf8(s); };
    // Everything the handlers see, as one string.
    async function events(bytes, pieces) {
      const log = [];
      let text = '';
      const setup = (r) => r.on('*', {
        element(e) { log.push(`<${e.tagName} ${[...e.attributes].map(([n, v]) => n + '=' + v).join(',')} ${e.selfClosing}>`);
          if (e.canHaveContent) e.onEndTag((end) => { log.push(`</${end.name}>`); }); },
        comments(c) { log.push(`<!${c.text}>`); },
      }).onDocument({ text(t) { text += t.text; if (t.lastInTextNode) { log.push(`"${text}"`); text = ''; } }, doctype(d) { log.push(`!${d.name}`); } });
      let i = 0;
      const stream = new ReadableStream({ pull(c) { if (i >= bytes.length) { c.close(); return; } const n = pieces(); c.enqueue(bytes.slice(i, i + n)); i += n; } });
      const out = new Uint8Array(await setup(new HTMLRewriter()).transform(new Response(stream)).arrayBuffer());
      const same = out.length === bytes.length && out.every((x, k) => x === bytes[k]);
      return [same, log.join('|')];
    }
    export default { fetch: () => results({
      soups: async () => {
        const failures = [];
        const seen = { elements: 0, ends: 0, comments: 0, texts: 0, scripts: 0 };
        for (let round = 0; round < 12; round++) {
          const bytes = soup();
          const whole = await events(bytes, () => 1 << 20);
          for (const event of whole[1].split('|')) {
            if (event.startsWith('<!')) seen.comments++;
            else if (event.startsWith('</')) seen.ends++;
            else if (event.startsWith('<script')) seen.scripts++;
            else if (event.startsWith('<')) seen.elements++;
            else if (event.startsWith('"')) seen.texts++;
          }
          for (const [name, pieces] of [['1-byte', () => 1], ['random', () => random(17) + 1]]) {
            const [same, log] = await events(bytes, pieces);
            if (!whole[0] || !same) failures.push(`round ${round} ${name}: bytes changed`);
            else if (log !== whole[1]) {
              let k = 0; while (log[k] === whole[1][k]) k++;
              failures.push(`round ${round} ${name}: events differ at ${k}: ${whole[1].slice(k - 40, k + 40)} / ${log.slice(k - 40, k + 40)}`);
            }
          }
        }
        return [failures, Object.values(seen).every((n) => n > 20)];
      },
    }) };
});
is_deeply $got->{soups}, [[], $T], 'random tag soup: bytes pass through, and handlers see the same tokens in whole, 1-byte and random pieces';

# ---- head injection and Cloudflare's "Rewrite links" example ----

$got = checks('inject', q{
    export default { fetch: () => results({
      head: () => rw('<!doctype html><html><head><meta charset=utf-8></head><body>x</body></html>', (r) =>
        r.on('head', { element(e) { e.append('<script src="/analytics.js"></script>', { html: true }); } }), 4),
      headPrepend: () => rw('<html><head><title>t</title></head></html>', (r) =>
        r.on('head', { element(e) { e.prepend('<meta name="injected" content="1">', { html: true }); } }), 1),
    }) };
});
is $got->{head}, '<!doctype html><html><head><meta charset=utf-8><script src="/analytics.js"></script></head><body>x</body></html>',
    'a script is appended to <head> (pieces of 4 bytes)';
is $got->{headPrepend}, '<html><head><meta name="injected" content="1"><title>t</title></head></html>', 'a meta tag is prepended to <head> (1-byte pieces)';

mkdir $t->prefix . '/www';
mkdir $t->prefix . '/www/t';
mkdir $t->prefix . '/www/t/links';
chmod 0755, $t->prefix . '/www', $t->prefix . '/www/t', $t->prefix . '/www/t/links';
my $PAGE = qq{<!DOCTYPE html>\n<html><body>\n<a href="https://developer.mozilla.org/en-US/docs/Web">MDN</a>\n}
    . qq{<img src="https://developer.mozilla.org/logo.png" alt=logo>\n<a href="/local">local</a><a name=anchor>no href</a>\n</body></html>\n};
Dispatch::Test::_write_file($t->prefix . '/www/t/links/page.html', $PAGE, 0644);
Dispatch::Test::_write_file($t->prefix . '/www/t/links/logo.png', "\x89PNG developer.mozilla.org", 0644);
# Verbatim from developers.cloudflare.com/workers/examples/rewrite-links/.
$t->put_script('api', 'links', <<'JS');
export default {
  async fetch(request) {
    const OLD_URL = "developer.mozilla.org";
    const NEW_URL = "mynewdomain.com";

    class AttributeRewriter {
      constructor(attributeName) {
        this.attributeName = attributeName;
      }
      element(element) {
        const attribute = element.getAttribute(this.attributeName);
        if (attribute) {
          element.setAttribute(
            this.attributeName,
            attribute.replace(OLD_URL, NEW_URL),
          );
        }
      }
    }

    const rewriter = new HTMLRewriter()
      .on("a", new AttributeRewriter("href"))
      .on("img", new AttributeRewriter("src"));

    const res = await fetch(request);
    const contentType = res.headers.get("Content-Type");

    // If the response is HTML, it can be transformed with
    // HTMLRewriter -- otherwise, it should pass through
    if (contentType.startsWith("text/html")) {
      return rewriter.transform(res);
    } else {
      return res;
    }
  },
};
JS
my $r = $t->request('GET', '/t/links/page.html', headers => { Host => "127.0.0.1:$origin" });
is $r->{status}, 200, 'the rewrite-links example answers';
(my $want = $PAGE) =~ s{"https://developer\.mozilla\.org/}{"https://mynewdomain.com/}g;
$want =~ s{<a href="/local">}{<a href="/local">};
is $r->{content}, $want, 'Cloudflare\'s rewrite-links example rewrites a[href] and img[src] and leaves the rest byte for byte';
$r = $t->request('GET', '/t/links/logo.png', headers => { Host => "127.0.0.1:$origin" });
is $r->{content}, "\x89PNG developer.mozilla.org", 'and passes a non-HTML response through untouched';

done_testing;
