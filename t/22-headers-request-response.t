#!/usr/bin/perl
# SPEC 5 (issue 4): Headers, Request and Response as the WHATWG Fetch
# standard defines them and Cloudflare Workers exposes them: header rules,
# the body mixins (text, json, arrayBuffer, bytes, blob, formData) read once,
# clone(), the constructors and statics. Then real handlers: a JSON API and
# form posts read with request.formData().
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json encode_json);

my $t = Dispatch::Test->new(
    server => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch api $script; }
        # behind a proxy on loopback that names the client in X-Forwarded-For
        location /behind-proxy/ {
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Forwarded-For;
            dispatch api connecting-ip;
        }
    },
);

sub run_checks {
    my ($name, $code, %req) = @_;
    return $t->run_checks('api', $name, $code, %req);
}
my ($T, $F) = (JSON::PP::true, JSON::PP::false);

# ---- Headers ----

my $got = run_checks('headers', q{
    export default { fetch: () => results({
      caseInsensitive: () => { const h = new Headers({ 'Content-Type': 'text/html' }); return [h.get('content-type'), h.has('CONTENT-TYPE')]; },
      combined: () => { const h = new Headers(); h.append('Accept', 'a'); h.append('accept', 'b'); return h.get('ACCEPT'); },
      missing: () => new Headers().get('x'),
      sorted: () => [...new Headers([['b', '2'], ['A', '1'], ['c', '3'], ['a', '0']])],
      setCookie: () => {
        const h = new Headers();
        h.append('Set-Cookie', 'a=1; Path=/');
        h.append('Set-Cookie', 'b=2');
        return [h.getSetCookie(), [...h].filter(([n]) => n === 'set-cookie').length, h.get('set-cookie'), h.getAll('Set-Cookie')];
      },
      getAllOther: () => new Headers({ a: '1' }).getAll('a'),
      setReplaces: () => { const h = new Headers([['x', '1'], ['X', '2']]); h.set('x', '3'); return [...h]; },
      deleteAll: () => { const h = new Headers([['x', '1'], ['X', '2']]); h.delete('X'); return h.has('x'); },
      trims: () => new Headers({ x: ' \t padded \t ' }).get('x'),
      badName: () => new Headers({ 'bad name': 'v' }),
      badNameColon: () => new Headers().append('x:y', 'v'),
      crlfValue: () => new Headers().set('x', 'a\r\nInjected: yes'),
      nulValue: () => new Headers().set('x', 'a\0b'),
      wideValue: () => new Headers().set('x', '\u20ac'),
      fromPairs: () => [...new Headers([['a', '1']])],
      badPair: () => new Headers([['a', '1', '2']]),
      fromHeaders: () => { const a = new Headers({ x: '1' }); const b = new Headers(a); b.set('x', '2'); return [a.get('x'), b.get('x')]; },
      forEach: () => { const seen = []; new Headers({ b: '2', a: '1' }).forEach((v, k) => seen.push(`${k}=${v}`)); return seen; },
      keysValues: () => { const h = new Headers({ b: '2', a: '1' }); return [[...h.keys()], [...h.values()]]; },
      tag: () => Object.prototype.toString.call(new Headers()),
    }) };
});
is_deeply $got->{caseInsensitive}, ['text/html', $T], 'header names are case-insensitive';
is $got->{combined}, 'a, b', 'repeated headers combine with ", "';
is $got->{missing}, undef, 'get() of a missing header is null';
is_deeply $got->{sorted}, [['a', '1, 0'], ['b', '2'], ['c', '3']], 'iteration is sorted by lower-cased name, values combined';
is_deeply $got->{setCookie}, [['a=1; Path=/', 'b=2'], 2, 'a=1; Path=/, b=2', ['a=1; Path=/', 'b=2']],
    'Set-Cookie: getSetCookie() and iteration keep each cookie apart; getAll() as on Workers';
like $got->{getAllOther}, qr/^threw TypeError/, 'getAll() is for Set-Cookie only (a Workers extension)';
is_deeply $got->{setReplaces}, [['x', '3']], 'set() replaces every value of the name';
is $got->{deleteAll}, $F, 'delete() removes every value of the name';
is $got->{trims}, 'padded', 'values lose leading and trailing whitespace';
like $got->{badName}, qr/^threw TypeError/, 'a name that is not a token is a TypeError';
like $got->{badNameColon}, qr/^threw TypeError/, 'a colon in a name is a TypeError';
like $got->{crlfValue}, qr/^threw TypeError/, 'CR/LF in a value is a TypeError (no header injection)';
like $got->{nulValue}, qr/^threw TypeError/, 'NUL in a value is a TypeError';
like $got->{wideValue}, qr/^threw TypeError/, 'a character above U+00FF in a value is a TypeError';
is_deeply $got->{fromPairs}, [['a', '1']], 'Headers from [name, value] pairs';
like $got->{badPair}, qr/^threw TypeError/, 'a pair of three is a TypeError';
is_deeply $got->{fromHeaders}, ['1', '2'], 'Headers from Headers copies';
is_deeply $got->{forEach}, ['a=1', 'b=2'], 'forEach() visits in sorted order';
is_deeply $got->{keysValues}, [['a', 'b'], ['1', '2']], 'keys() and values()';
is $got->{tag}, '[object Headers]', 'Object.prototype.toString says Headers';

# ---- the incoming request ----

$got = run_checks('incoming', q{
    export default { fetch: (request) => results({
      method: () => request.method,
      url: () => request.url,
      header: () => request.headers.get('x-test'),
      immutable: () => request.headers.set('x-test', 'changed'),
      immutableDelete: () => request.headers.delete('x-test'),
      stillThere: () => request.headers.get('x-test'),
      cloneIsImmutable: () => request.clone().headers.set('x-test', 'changed'),
      copyIsMutable: () => { const r = new Request(request.clone()); r.headers.set('x-test', 'changed'); return [r.headers.get('x-test'), request.headers.get('x-test')]; },
      signal: () => [request.signal instanceof AbortSignal, request.signal.aborted],
      cloneThenRead: async () => {
        const copy = request.clone();
        return [await copy.text(), request.bodyUsed, copy.bodyUsed];
      },
      read: async () => [await request.text(), request.bodyUsed],
      readAgain: () => request.text(),
      cloneAfterRead: () => request.clone(),
      moveUsed: () => new Request(request),
    }) };
}, method => 'POST', headers => { 'X-Test' => 'original' }, content => 'the body');
is $got->{method}, 'POST', 'request.method';
like $got->{url}, qr{^http://[^/]+/t/incoming$}, 'request.url is absolute';
is $got->{header}, 'original', 'request headers are readable';
like $got->{immutable}, qr/^threw TypeError/, 'the incoming request\'s headers are immutable: set() throws';
like $got->{immutableDelete}, qr/^threw TypeError/, 'and delete() throws';
is $got->{stillThere}, 'original', 'and nothing changed';
like $got->{cloneIsImmutable}, qr/^threw TypeError/, 'a clone keeps them immutable';
is_deeply $got->{copyIsMutable}, ['changed', 'original'], 'new Request(request) has mutable headers of its own';
is_deeply $got->{signal}, [$T, $F], 'request.signal is an AbortSignal that is not aborted';
is_deeply $got->{cloneThenRead}, ['the body', $F, $T], 'clone() reads independently of the original';
is_deeply $got->{read}, ['the body', $T], 'text() reads the body and sets bodyUsed';
like $got->{readAgain}, qr/^threw TypeError: Body has already been used/, 'a second read is a TypeError';
like $got->{cloneAfterRead}, qr/^threw TypeError/, 'clone() of a used body is a TypeError';
like $got->{moveUsed}, qr/^threw TypeError/, 'new Request(request) with a used body is a TypeError';

# ---- the client's headers, read as sent and as a built list ----

# request.headers.get() and has() read the client's header list as the
# engine hands it over (names as sent, values untrimmed) until something
# needs the whole list: each answer must be what the built list gives.
$t->put_script('api', 'client-headers', q{
    const NAMES = ['x-dup', 'X-DUP', 'x-pad', 'x-empty', 'x-latin', 'user-agent', 'host', 'x-missing', 'x-du', 'x-note'];
    const read = (headers) => NAMES.map((name) => [headers.get(name), headers.has(name)]);
    export default { fetch(request) {
      const lazy = read(request.headers);
      const copy = new Headers(request.headers); // shares the client's list until it changes
      const copied = read(copy);
      copy.append('x-dup', 'c');
      const all = [...request.headers]; // builds the list
      const built = read(request.headers);
      return Response.json({ lazy, copied, built, all, appended: copy.get('x-dup'), original: request.headers.get('x-dup'),
        invalid: (() => { try { request.headers.get('bad name'); return 'no'; } catch (e) { return e.name; } })() });
    } };
});
{
    my $r = $t->read_response($t->send_request({ path => '/t/client-headers', headers => {
        'X-Dup' => 'a', 'x-DUP' => [' b ', "c\t"], 'X-Pad' => "\t v \t", 'X-Empty' => '',
        'X-Latin' => "caf\xe9", 'User-Agent' => 'ua/1', 'X-Note' => 'user-agent: fake; x-pad:no' } }));
    is $r->{status}, 200, 'the client-headers script ran' or diag $r->{content};
    my $got = decode_json($r->{content});
    is_deeply $got->{lazy}, $got->{built}, 'get() and has() on the client\'s headers give what the built list gives';
    is_deeply $got->{copied}, $got->{built}, 'and so does a copy made before the list was built';
    is_deeply [ @{ $got->{lazy} }[0 .. 4] ], [['a, b, c', $T], ['a, b, c', $T], ['v', $T], ['', $T], ["caf\x{e9}", $T]],
        'repeated names combine in order, values are trimmed, an empty value is there, Latin-1 stays';
    is_deeply [ @{ $got->{lazy} }[7 .. 8] ], [[undef, $F], [undef, $F]], 'a missing name (or a prefix of one) is null';
    is_deeply [ @{ $got->{lazy} }[5, 9] ], [['ua/1', $T], ['user-agent: fake; x-pad:no', $T]],
        'a value that reads like other fields is one value, and names no header';
    is_deeply [ grep { $_->[0] =~ /^x-/ } @{ $got->{all} } ],
        [['x-dup', 'a, b, c'], ['x-empty', ''], ['x-latin', "caf\x{e9}"], ['x-note', 'user-agent: fake; x-pad:no'], ['x-pad', 'v']],
        'the built list, sorted';
    is $got->{appended}, 'a, b, c, c', 'the copy changes on its own';
    is $got->{original}, 'a, b, c', 'and the request\'s headers stay';
    is $got->{invalid}, 'TypeError', 'an invalid name is still a TypeError';
}

# ---- body mixins ----

$got = run_checks('bodies', q{
    const post = (body, headers) => new Request('https://x.test/', { method: 'POST', body, headers });
    export default { fetch: () => results({
      text: () => post('h\u00e9').text(),
      textBom: () => post(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])).text(),
      json: () => post('{"a":[1,2]}').json(),
      jsonBad: () => post('not json').json(),
      arrayBuffer: async () => { const b = await post('abc').arrayBuffer(); return [b instanceof ArrayBuffer, b.byteLength]; },
      bytes: async () => { const b = await new Response('hi').bytes(); return [b instanceof Uint8Array, Array.from(b)]; },
      blob: async () => {
        const b = await post('xyz', { 'Content-Type': 'Text/Plain;charset=UTF-8' }).blob();
        return [b instanceof Blob, b.size, b.type, await b.text()];
      },
      nullBody: async () => { const r = new Response(null); return [r.body, await r.text(), r.bodyUsed, await r.text()]; },
      usedAfterJsonError: async () => { const r = post('not json'); try { await r.json(); } catch {} return r.bodyUsed; },
      bodyIsStream: () => post('x').body instanceof ReadableStream,
      noBodyIsNull: () => new Response(null).body,
      stringType: () => post('x').headers.get('content-type'),
      bufferType: () => post(new Uint8Array([1])).headers.get('content-type'),
      explicitType: () => post('x', { 'content-type': 'application/xml' }).headers.get('content-type'),
      searchParams: async () => { const r = post(new URLSearchParams({ q: 'a b', x: '\u00e9' })); return [r.headers.get('content-type'), await r.text()]; },
      blobInit: async () => { const r = new Response(new Blob(['<p>'], { type: 'text/html' })); return [r.headers.get('content-type'), await r.text()]; },
      blobNoType: () => new Response(new Blob(['x'])).headers.get('content-type'),
      bufferCopied: async () => { const u = new Uint8Array([1, 2]); const r = new Response(u); u[0] = 9; return Array.from(new Uint8Array(await r.arrayBuffer())); },
    }) };
});
is $got->{text}, "h\x{e9}", 'text() decodes UTF-8';
is $got->{textBom}, 'a', 'text() drops a UTF-8 BOM';
is_deeply $got->{json}, { a => [1, 2] }, 'json() parses';
like $got->{jsonBad}, qr/^threw SyntaxError/, 'json() of bad JSON rejects with a SyntaxError';
is_deeply $got->{arrayBuffer}, [$T, 3], 'arrayBuffer() gives an ArrayBuffer';
is_deeply $got->{bytes}, [$T, [104, 105]], 'bytes() gives a Uint8Array';
is_deeply $got->{blob}, [$T, 3, 'text/plain;charset=utf-8', 'xyz'], 'blob() gives a Blob typed from Content-Type';
is_deeply $got->{nullBody}, [undef, '', $F, ''], 'a null body reads as empty, any number of times';
is $got->{usedAfterJsonError}, $T, 'a failed json() still uses the body';
is $got->{bodyIsStream}, $T, 'a body is a ReadableStream';
is $got->{noBodyIsNull}, undef, 'no body: body is null';
is $got->{stringType}, 'text/plain;charset=UTF-8', 'a string body defaults to text/plain;charset=UTF-8';
is $got->{bufferType}, undef, 'a byte body has no default Content-Type';
is $got->{explicitType}, 'application/xml', 'an explicit Content-Type wins';
is_deeply $got->{searchParams}, ['application/x-www-form-urlencoded;charset=UTF-8', 'q=a+b&x=%C3%A9'],
    'a URLSearchParams body is form-urlencoded';
is_deeply $got->{blobInit}, ['text/html', '<p>'], 'a Blob body takes the Blob\'s type';
is $got->{blobNoType}, undef, 'an untyped Blob body sets no Content-Type';
is_deeply $got->{bufferCopied}, [1, 2], 'a typed-array body is copied when the Response is made';

# ---- Request constructor ----

$got = run_checks('requests', q{
    export default { fetch: () => results({
      defaults: () => { const r = new Request('https://x.test/a?b#c'); return [r.method, r.url, r.redirect, r.bodyUsed, r.integrity]; },
      fromURL: () => new Request(new URL('https://x.test/p')).url,
      normalized: () => ['get', 'post', 'Patch', 'custom'].map((m) => new Request('https://x.test', { method: m }).method),
      relative: () => new Request('/relative'),
      credentials: () => new Request('https://user:pw@x.test/'),
      forbidden: () => new Request('https://x.test', { method: 'CONNECT' }),
      badMethod: () => new Request('https://x.test', { method: 'GE T' }),
      getWithBody: () => new Request('https://x.test', { body: 'x' }),
      headWithBody: () => new Request('https://x.test', { method: 'HEAD', body: 'x' }),
      fromRequest: async () => {
        const a = new Request('https://x.test/a', { method: 'PUT', headers: { 'x-a': '1' }, body: 'data', redirect: 'manual' });
        const b = new Request(a, { headers: { 'x-b': '2' } });
        return [b.method, b.url, b.redirect, [...b.headers], await b.text(), a.bodyUsed];
      },
      fromRequestNewMethod: () => new Request(new Request('https://x.test', { method: 'POST', body: 'x' }), { method: 'GET' }),
      badRedirect: () => new Request('https://x.test', { redirect: 'sometimes' }),
      signal: () => { const c = new AbortController(); const r = new Request('https://x.test', { signal: c.signal }); c.abort(); return [r.signal === c.signal, r.signal.aborted]; },
      badSignal: () => new Request('https://x.test', { signal: 'no' }),
      // ky's check for request streams (onUploadProgress needs it): the
      // init's duplex member is read, and a stream body gets no Content-Type.
      duplexRead: () => {
        let duplexAccessed = false;
        const hasContentType = new Request('https://empty.invalid', {
          body: new ReadableStream(), method: 'POST', get duplex() { duplexAccessed = true; return 'half'; },
        }).headers.has('Content-Type');
        return [duplexAccessed, hasContentType];
      },
      duplexValues: () => [new Request('https://x.test', { duplex: 'half' }).duplex,
        (() => { try { new Request('https://x.test', { duplex: 'full' }); return 'accepted'; } catch (e) { return e.name; } })()],
      cloneKeeps: async () => {
        const a = new Request('https://x.test/', { method: 'POST', body: 'x', headers: { h: '1' } });
        const b = a.clone();
        b.headers.set('h', '2');
        return [b.method, await b.text(), a.headers.get('h'), a.bodyUsed];
      },
      tag: () => Object.prototype.toString.call(new Request('https://x.test')),
    }) };
});
is_deeply $got->{defaults}, ['GET', 'https://x.test/a?b#c', 'follow', $F, ''], 'new Request(url) defaults';
is $got->{fromURL}, 'https://x.test/p', 'new Request(URL object)';
is_deeply $got->{normalized}, ['GET', 'POST', 'Patch', 'custom'], 'the standard methods are upper-cased, others kept';
like $got->{relative}, qr/^threw TypeError/, 'a relative URL is a TypeError';
like $got->{credentials}, qr/^threw TypeError/, 'a URL with credentials is a TypeError';
like $got->{forbidden}, qr/^threw TypeError/, 'CONNECT is a TypeError';
like $got->{badMethod}, qr/^threw TypeError/, 'a method that is not a token is a TypeError';
like $got->{getWithBody}, qr/^threw TypeError/, 'a GET with a body is a TypeError';
like $got->{headWithBody}, qr/^threw TypeError/, 'a HEAD with a body is a TypeError';
is_deeply $got->{fromRequest}, ['PUT', 'https://x.test/a', 'manual', [['x-b', '2']], 'data', $T],
    'new Request(request, init): init overrides, the body moves over';
like $got->{fromRequestNewMethod}, qr/^threw TypeError/, 'turning a request with a body into a GET is a TypeError';
like $got->{badRedirect}, qr/^threw TypeError/, 'an unknown redirect mode is a TypeError';
is_deeply $got->{signal}, [$T, $T], 'init.signal is the request\'s signal (as on Workers)';
like $got->{badSignal}, qr/^threw TypeError/, 'a signal that is not an AbortSignal is a TypeError';
is_deeply $got->{duplexRead}, [$T, $F], "init.duplex is read (ky's feature test for request streams), a stream body has no Content-Type";
is_deeply $got->{duplexValues}, ['half', 'TypeError'], "request.duplex is 'half'; any other init.duplex is a TypeError";
is_deeply $got->{cloneKeeps}, ['POST', 'x', '1', $F], 'clone() copies method, headers and body';
is $got->{tag}, '[object Request]', 'Object.prototype.toString says Request';

# ---- Response ----

$got = run_checks('responses', q{
    export default { fetch: () => results({
      defaults: () => { const r = new Response(); return [r.status, r.ok, r.statusText, r.type, r.url, r.redirected, r.body]; },
      init: () => { const r = new Response('x', { status: 404, statusText: 'Nope', headers: { a: '1' } }); return [r.status, r.ok, r.statusText, r.headers.get('a')]; },
      okRange: () => [200, 299, 300, 199 + 1].map((s) => new Response(null, { status: s }).ok),
      low: () => new Response('x', { status: 199 }),
      high: () => new Response('x', { status: 600 }),
      zero: () => new Response(null, { status: 0 }),
      nullBodyStatus: () => new Response('x', { status: 204 }),
      nullBodyOk: () => new Response(null, { status: 304 }).status,
      badStatusText: () => new Response('x', { statusText: 'a\nb' }),
      json: async () => { const r = Response.json({ a: 1 }, { status: 201, headers: { 'x-y': 'z' } }); return [r.status, r.headers.get('content-type'), r.headers.get('x-y'), await r.text()]; },
      jsonKeepsType: () => Response.json(1, { headers: { 'content-type': 'application/vnd.api+json' } }).headers.get('content-type'),
      jsonUnserialisable: () => Response.json(undefined),
      redirect: () => { const r = Response.redirect('https://x.test/next', 301); return [r.status, r.headers.get('location'), r.body]; },
      redirectDefault: () => Response.redirect('https://x.test/').status,
      redirectBadStatus: () => Response.redirect('https://x.test/', 200),
      redirectRelative: () => Response.redirect('/next'),
      redirectImmutable: () => Response.redirect('https://x.test/').headers.set('a', 'b'),
      error: () => { const r = Response.error(); return [r.type, r.status, r.ok]; },
      clone: async () => { const a = new Response('body', { status: 202 }); const b = a.clone(); return [b.status, await b.text(), await a.text()]; },
      formDataBody: async () => {
        const fd = new FormData(); fd.append('k', 'v');
        const r = new Response(fd);
        const type = r.headers.get('content-type');
        const text = await r.text();
        const boundary = type.split('boundary=')[1];
        return [type.startsWith('multipart/form-data; boundary='), text.startsWith(`--${boundary}\r\n`), text.endsWith(`--${boundary}--\r\n`), text.includes('name="k"\r\n\r\nv\r\n')];
      },
      tag: () => Object.prototype.toString.call(new Response()),
    }) };
});
is_deeply $got->{defaults}, [200, $T, '', 'default', '', $F, undef], 'new Response() defaults';
is_deeply $got->{init}, [404, $F, 'Nope', '1'], 'status, statusText and headers from init; ok is false outside 2xx';
is_deeply $got->{okRange}, [$T, $T, $F, $T], 'ok is true for 200 to 299';
like $got->{low}, qr/^threw RangeError/, 'a status below 200 is a RangeError';
like $got->{high}, qr/^threw RangeError/, 'a status above 599 is a RangeError';
like $got->{zero}, qr/^threw RangeError/, 'status 0 is a RangeError';
like $got->{nullBodyStatus}, qr/^threw TypeError/, 'a body with 204 is a TypeError';
is $got->{nullBodyOk}, 304, 'a null body with 304 is fine';
like $got->{badStatusText}, qr/^threw TypeError/, 'a statusText with a newline is a TypeError';
is_deeply $got->{json}, [201, 'application/json', 'z', '{"a":1}'], 'Response.json(data, init)';
is $got->{jsonKeepsType}, 'application/vnd.api+json', 'Response.json keeps an explicit Content-Type';
like $got->{jsonUnserialisable}, qr/^threw TypeError/, 'Response.json(undefined) is a TypeError';
is_deeply $got->{redirect}, [301, 'https://x.test/next', undef], 'Response.redirect(url, status)';
is $got->{redirectDefault}, 302, 'Response.redirect defaults to 302';
like $got->{redirectBadStatus}, qr/^threw RangeError/, 'a redirect status that is not 301/302/303/307/308 is a RangeError';
like $got->{redirectRelative}, qr/^threw TypeError/, 'a relative redirect URL is a TypeError (there is no base)';
like $got->{redirectImmutable}, qr/^threw TypeError/, 'a redirect\'s headers are immutable';
is_deeply $got->{error}, ['error', 0, $F], 'Response.error()';
is_deeply $got->{clone}, [202, 'body', 'body'], 'clone() gives a second readable copy';
is_deeply $got->{formDataBody}, [$T, $T, $T, $T], 'a FormData body is multipart/form-data with a generated boundary';
is $got->{tag}, '[object Response]', 'Object.prototype.toString says Response';

# ---- a JSON API routing on method and path ----

$t->put_script('api', 'items', q{
    const items = new Map([['1', { id: '1', name: 'first' }]]);
    let next = 2;
    const json = (data, status = 200) => Response.json(data, { status });

    export default {
      async fetch(request) {
        const url = new URL(request.url);
        const parts = url.pathname.split('/').filter(Boolean); // ['t', 'items', 'api', 'items', id?]
        const [, , api, collection, id] = parts;
        if (api !== 'api' || collection !== 'items') return json({ error: 'not found' }, 404);
        if (id === undefined) {
          if (request.method === 'GET') {
            const limit = Number(url.searchParams.get('limit') ?? 10);
            return json([...items.values()].slice(0, limit));
          }
          if (request.method === 'POST') {
            if (!(request.headers.get('content-type') ?? '').startsWith('application/json')) {
              return json({ error: 'expected JSON' }, 415);
            }
            let body;
            try { body = await request.json(); } catch { return json({ error: 'bad JSON' }, 400); }
            const item = { id: String(next++), name: String(body.name) };
            items.set(item.id, item);
            return new Response(JSON.stringify(item), {
              status: 201, headers: { 'content-type': 'application/json', location: `/api/items/${item.id}` },
            });
          }
          return new Response(null, { status: 405, headers: { allow: 'GET, POST' } });
        }
        const item = items.get(id);
        if (item === undefined) return json({ error: `no item ${id}` }, 404);
        if (request.method === 'DELETE') { items.delete(id); return new Response(null, { status: 204 }); }
        return json(item);
      },
    };
});
my $r = $t->get('/t/items/api/items');
is $r->{status}, 200, 'JSON API: GET the collection';
is_deeply decode_json($r->{content}), [{ id => '1', name => 'first' }], 'JSON API: lists the items';
$r = $t->request('POST', '/t/items/api/items', headers => { 'Content-Type' => 'application/json' },
    content => encode_json({ name => "s\x{e9}cond" }));
is $r->{status}, 201, 'JSON API: POST creates';
is $r->{headers}{location}, '/api/items/2', 'JSON API: with a Location header';
is_deeply decode_json($r->{content}), { id => '2', name => "s\x{e9}cond" }, 'JSON API: a UTF-8 JSON body round-trips';
is $t->get('/t/items/api/items/2')->{status}, 200, 'JSON API: GET the new item';
is $t->request('POST', '/t/items/api/items', headers => { 'Content-Type' => 'application/json' }, content => '{bad')->{status},
    400, 'JSON API: bad JSON is 400';
is $t->request('POST', '/t/items/api/items', content => 'name=x')->{status}, 415, 'JSON API: not JSON is 415';
$r = $t->request('PATCH', '/t/items/api/items');
is $r->{status}, 405, 'JSON API: another method is 405';
is $r->{headers}{allow}, 'GET, POST', 'JSON API: with Allow';
is $t->request('DELETE', '/t/items/api/items/1')->{status}, 204, 'JSON API: DELETE is 204';
$r = $t->get('/t/items/api/items/1');
is $r->{status}, 404, 'JSON API: the deleted item is gone';
is_deeply decode_json($r->{content}), { error => 'no item 1' }, 'JSON API: with a JSON error';

# ---- form posts read with request.formData() ----

$t->put_script('api', 'form', q{
    export default {
      async fetch(request) {
        let form;
        try { form = await request.formData(); } catch (e) { return new Response(`${e.name}: ${e.message}`, { status: 400 }); }
        const out = {};
        for (const [name, value] of form) {
          const shown = typeof value === 'string' ? value
            : { file: value.name, type: value.type, size: value.size, text: await value.text(), isFile: value instanceof File };
          (out[name] ??= []).push(shown);
        }
        return Response.json(out);
      },
    };
});
$r = $t->request('POST', '/t/form', headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
    content => 'name=J%C3%B6rg+M&tags=a&tags=b&empty=&plus=1%2B1');
is $r->{status}, 200, 'an urlencoded form post is read';
is_deeply decode_json($r->{content}), { name => ["J\x{f6}rg M"], tags => ['a', 'b'], empty => [''], plus => ['1+1'] },
    'urlencoded: + is a space, %XX is UTF-8, repeated names stay apart';

my $boundary = '----PerlFormBoundary7MA4YWxkTrZu0gW';
my $file = "line one\r\nline two\n\x00\xff";
my $multipart = join '',
    "--$boundary\r\n",
    "Content-Disposition: form-data; name=\"title\"\r\n\r\n",
    "Caf\xc3\xa9\r\n",
    "--$boundary\r\n",
    "Content-Disposition: form-data; name=\"upload\"; filename=\"notes.txt\"\r\n",
    "Content-Type: text/plain\r\n\r\n",
    "$file\r\n",
    "--$boundary\r\n",
    "Content-Disposition: form-data; name=\"title\"\r\n\r\n",
    "second\r\n",
    "--$boundary--\r\n";
$r = $t->request('POST', '/t/form', headers => { 'Content-Type' => "multipart/form-data; boundary=$boundary" },
    content => $multipart);
is $r->{status}, 200, 'a multipart form post is read';
my $form = decode_json($r->{content});
is_deeply $form->{title}, ["Caf\x{e9}", 'second'], 'multipart: text fields, UTF-8, repeated names in order';
is $form->{upload}[0]{file}, 'notes.txt', 'multipart: a file field is a File with its name';
is $form->{upload}[0]{type}, 'text/plain', 'multipart: and its type';
is $form->{upload}[0]{size}, length($file), 'multipart: and its exact size (CRLF and binary bytes kept)';
ok $form->{upload}[0]{isFile}, 'multipart: it is a File';

$r = $t->request('POST', '/t/form', headers => { 'Content-Type' => "multipart/form-data; boundary=\"$boundary\"" },
    content => $multipart);
is $r->{status}, 200, 'multipart: a quoted boundary parameter works too';
$r = $t->request('POST', '/t/form', headers => { 'Content-Type' => "multipart/form-data; boundary=other" },
    content => $multipart);
is $r->{status}, 400, 'multipart: a body without its boundary is rejected';
like $r->{content}, qr/^TypeError/, 'multipart: with a TypeError';
$r = $t->request('POST', '/t/form', headers => { 'Content-Type' => 'text/plain' }, content => 'a=b');
like $r->{content}, qr/^TypeError/, 'formData() of a text/plain body is a TypeError';

# ---- CF-Connecting-IP: the client's address, as Cloudflare's edge sets it ----

$t->put_script('api', 'connecting-ip', q{
    export default { fetch: (request) => Response.json({
      ip: request.headers.get('CF-Connecting-IP'),
      named: [...request.headers].filter(([name]) => name === 'cf-connecting-ip'),
    }) };
});
{
    my $got = decode_json($t->get('/t/connecting-ip')->{content});
    is_deeply $got, { ip => '127.0.0.1', named => [['cf-connecting-ip', '127.0.0.1']] },
        'CF-Connecting-IP holds the client\'s address';
    $got = decode_json($t->get('/t/connecting-ip', headers => { 'CF-Connecting-IP' => '203.0.113.9' })->{content});
    is_deeply $got, { ip => '127.0.0.1', named => [['cf-connecting-ip', '127.0.0.1']] },
        'one the client sends is replaced, not trusted';
    $got = decode_json($t->get('/behind-proxy/', headers => { 'X-Forwarded-For' => '198.51.100.7' })->{content});
    is $got->{ip}, '198.51.100.7', 'behind a trusted proxy, the address the realip module found';
}

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
