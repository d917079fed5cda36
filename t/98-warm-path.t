#!/usr/bin/perl
# The warm request path (issue 18): what its shortcuts keep and what they
# change, through a real nginx and Redis. A handler that returns a Response
# (not a promise) has it handed over as it was when returned, and the
# microtasks it queued still run in that turn; a Response made with no init
# reads nothing (a tenant's Object.prototype getters do not reach it); an
# empty request.cf is made only when read, and is the same frozen, plain
# object on every read.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json);

my $T = JSON::PP::true;

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch warm $script; } },
);

# Returned at once; a microtask queued before the return changes the
# Response afterwards and counts that it ran.
$t->put_script('warm', 'late', q{
  let ran = 0;
  export default {
    fetch(request) {
      if (new URL(request.url).pathname.endsWith('/count')) return new Response(String(ran));
      const response = new Response('sent as returned');
      Promise.resolve().then(() => { ran++; response.headers.set('x-late', 'too late'); });
      return response;
    },
  };
});

$t->put_script('warm', 'planted', q{
  const planted = (value) => ({ get() { return value; }, configurable: true });
  Object.defineProperty(Object.prototype, 'status', planted(404));
  Object.defineProperty(Object.prototype, 'statusText', planted('Planted'));
  Object.defineProperty(Object.prototype, 'headers', planted({ 'x-planted': 'yes' }));
  export default { fetch: () => new Response('no init') };
});

$t->put_script('warm', 'cf', q{
  export default {
    fetch(request) {
      const cf = request.cf;
      return Response.json({
        plain: Object.getPrototypeOf(cf) === Object.prototype,
        empty: Object.keys(cf).length === 0,
        frozen: Object.isFrozen(cf),
        same: request.cf === cf,
        cloned: Object.isFrozen(request.clone().cf) && Object.keys(request.clone().cf).length === 0,
        copied: Object.isFrozen(new Request(request).cf),
      });
    },
  };
});
# A Response whose headers nobody read holds only its body's Content-Type
# (or nothing) and makes its Headers when .headers is first read.
$t->put_script('warm', 'lazy', q{
  export default {
    fetch(request) {
      const path = new URL(request.url).pathname;
      if (path.endsWith('/later')) {
        const response = new Response('read later');
        response.headers.append('x-later', 'yes');
        return response;
      }
      if (path.endsWith('/clone')) {
        const response = new Response('cloned');
        const copy = response.clone();
        copy.headers.set('content-type', 'text/x-copy');
        return Response.json({ original: response.headers.get('content-type'), copy: copy.headers.get('content-type') });
      }
      if (path.endsWith('/same')) {
        const response = new Response('x');
        const headers = response.headers;
        headers.set('x-a', '1');
        return Response.json({ same: response.headers === headers, kept: response.headers.get('x-a') });
      }
      if (path.endsWith('/json')) return Response.json({ n: 1 });
      return new Response(null, { status: 200 });
    },
  };
});

# A Request keeps redirect and signal in one record made only when needed.
$t->put_script('warm', 'options', q{
  export default {
    fetch(request) {
      const manual = new Request(request, { redirect: 'manual' });
      const signal = manual.signal;
      const copy = manual.clone();
      const controller = new AbortController();
      const given = new Request('https://example.com/', { signal: controller.signal });
      return Response.json({
        client: request.redirect, manual: manual.redirect, cloned: copy.redirect, copied: new Request(manual).redirect,
        plain: new Request('https://example.com/').redirect,
        sameSignal: manual.signal === signal, cloneSignal: copy.signal === signal,
        given: given.signal === controller.signal, givenCopied: new Request(given).signal === controller.signal,
        madeCf: new Request('https://example.com/').cf === undefined, method: request.method,
      });
    },
  };
});
# Request and Response keep their state in one private record each, the
# body in it; Body, their base, has no field: its members find the record,
# and refuse anything else as a private field read did.
$t->put_script('warm', 'brand', q{
  const getter = (name) => Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Request.prototype), name).get;
  const thrown = (f) => { try { f(); return 'none'; } catch (e) { return `${e.constructor.name}: ${e.message}`; } };
  const rejected = async (f) => { try { await f(); return 'none'; } catch (e) { return `${e.constructor.name}: ${e.message}`; } };
  export default {
    async fetch(request) {
      const text = Response.prototype.text;
      class Mine extends Response {}
      const mine = new Mine('subclassed');
      return Response.json({
        body: thrown(() => getter('body').call({})),
        bodyUsed: thrown(() => getter('bodyUsed').call(new Headers())),
        primitive: thrown(() => getter('bodyUsed').call(1)),
        text: await rejected(() => text.call({})),
        json: await rejected(() => Request.prototype.json.call(Object.create(Request.prototype))),
        status: thrown(() => Object.getOwnPropertyDescriptor(Response.prototype, 'status').get.call(request)),
        method: thrown(() => Object.getOwnPropertyDescriptor(Request.prototype, 'method').get.call(new Response('x'))),
        url: thrown(() => Object.getOwnPropertyDescriptor(Request.prototype, 'url').get.call(new Response('x'))),
        nothing: thrown(() => Object.getOwnPropertyDescriptor(Response.prototype, 'headers').get.call(undefined)),
        crossed: await text.call(request),
        mine: await mine.text(),
        mineUsed: mine.bodyUsed,
        instance: mine instanceof Response && mine instanceof Object.getPrototypeOf(Response),
      });
    },
  };
});

# The records are plain objects with every property their own: what a
# tenant puts on Object.prototype under the same names is never read, and
# its setters never run.
# Request and Response inherit from Body (as in Workers) without calling
# its constructor: each is made in one call, and no constructor a tenant
# puts in Body's place is called.
$t->put_script('warm', 'lineage', q{
  export default {
    fetch() {
      const Body = Object.getPrototypeOf(Request);
      const saved = Object.getPrototypeOf(Response);
      let called = 0;
      Object.setPrototypeOf(Response, function F() { called++; });
      const swapped = new Response('swapped');
      Object.setPrototypeOf(Response, saved);
      let made;
      try { new Body(); made = 'made'; } catch (e) { made = String(e); }
      class Mine extends Request {}
      return Response.json({
        shared: Body === Object.getPrototypeOf(Response)
          && Object.getPrototypeOf(Request.prototype) === Body.prototype
          && Object.getPrototypeOf(Response.prototype) === Body.prototype,
        instances: new Request('http://x/') instanceof Body && new Response('x') instanceof Body,
        made,
        called,
        swapped: swapped instanceof Response ? swapped.status : 'not a Response',
        mine: new Mine('http://x/y') instanceof Request ? new Mine('http://x/y').url : 'not a Request',
      });
    },
  };
});

$t->put_script('warm', 'shadowed', q{
  const calls = [];
  for (const name of ['body', 'method', 'url', 'headers', 'clientUrl', 'extra', 'status', 'type', 'redirect', 'signal', 'cf']) {
    Object.defineProperty(Object.prototype, name, {
      get() { calls.push(`get ${name}`); return 'planted'; },
      set(value) { calls.push(`set ${name}`); },
      configurable: true,
    });
  }
  export default {
    async fetch(request) {
      const url = request.url;
      const method = request.method;
      const text = await request.text();
      const used = request.bodyUsed;
      const made = new Response('made');
      const json = Response.json({ n: 1 });
      const result = { url, method, text, used, made: await made.text(), json: await json.text(),
        status: made.status, cf: Object.keys(request.cf).length };
      return Response.json({ result, calls });
    },
  };
});
$t->start;

my $r = $t->get('/t/late/x');
is $r->{status}, 200, 'a handler that returns a Response is answered' or diag $r->{content};
is $r->{content}, 'sent as returned', 'with its body';
ok !exists $r->{headers}{'x-late'}, 'as it was when returned: a header a microtask set afterwards is not sent';
is $t->get('/t/late/count')->{content}, '1', 'the microtask the handler queued ran all the same';

$r = $t->get('/t/planted/x');
is $r->{status}, 200, 'a Response with no init has status 200 whatever Object.prototype.status says' or diag $r->{content};
unlike $r->{reason}, qr/Planted/, 'nor Object.prototype.statusText';
ok !exists $r->{headers}{'x-planted'}, 'nor Object.prototype.headers';
is $r->{headers}{'content-type'}, 'text/plain;charset=UTF-8', 'its body\'s own Content-Type is sent';

$r = $t->get('/t/cf/x');
is $r->{status}, 200, 'a request with no dispatch_request_cf is served' or diag $r->{content};
my $cf = decode_json($r->{content});
is $cf->{plain}, $T, 'its request.cf is a plain object';
is $cf->{empty}, $T, 'with no properties';
is $cf->{frozen}, $T, 'frozen';
is $cf->{same}, $T, 'the same object on every read';
is $cf->{cloned}, $T, 'request.clone() has an empty, frozen request.cf too';
is $cf->{copied}, $T, 'so does new Request(request)';

$r = $t->get('/t/lazy/later');
is $r->{headers}{'content-type'}, 'text/plain;charset=UTF-8', 'headers first read after construction hold the body\'s Content-Type' or diag explain $r->{headers};
is $r->{headers}{'x-later'}, 'yes', 'and what the script added to them is sent';
my $d = decode_json($t->get('/t/lazy/clone')->{content});
is_deeply [$d->{original}, $d->{copy}], ['text/plain;charset=UTF-8', 'text/x-copy'], 'a clone made before the headers were read gets headers of its own';
$d = decode_json($t->get('/t/lazy/same')->{content});
is_deeply [$d->{same}, $d->{kept}], [$T, '1'], 'the headers made on first read are the same object on every read';
is $t->get('/t/lazy/json')->{headers}{'content-type'}, 'application/json', 'Response.json sends application/json with its headers never read';
$r = $t->get('/t/lazy/none');
is $r->{status}, 200, 'a Response with no body and no headers is sent';
unlike $r->{headers}{'content-type'} // '', qr/text\/plain|json/, 'with no Content-Type of a body';

$d = decode_json($t->get('/t/options/x')->{content});
is_deeply [@$d{qw(client manual cloned copied plain)}], [qw(follow manual manual manual follow)],
    'redirect: "follow" unless init says otherwise, kept by clone() and new Request(request)';
is $d->{sameSignal}, $T, 'request.signal is the same object on every read';
is $d->{cloneSignal}, $T, 'a clone made after it was read has the same signal';
is_deeply [$d->{given}, $d->{givenCopied}], [$T, $T], 'init.signal is the request\'s signal, and its copy\'s';
is $d->{madeCf}, $T, 'a Request a script made has no request.cf';
is $d->{method}, 'GET', 'a client\'s GET is request.method "GET"';
is decode_json($t->request('POST', '/t/options/x', content => 'x')->{content})->{method}, 'POST', 'and its POST "POST"';

$d = decode_json($t->get('/t/brand/x')->{content});
my $read = 'TypeError: Cannot read private member #body from an object whose class did not declare it';
is_deeply [@$d{qw(body bodyUsed primitive)}], [$read, $read, $read],
    'Body\'s getters on what is neither a Request nor a Response throw the TypeError of a private field read';
is_deeply [@$d{qw(text json)}], ['TypeError: Receiver must be an instance of class Body', 'TypeError: Receiver must be an instance of class Body'],
    'and its reading methods reject with the TypeError of a private method\'s brand check';
is $d->{status}, 'TypeError: Cannot read private member #status from an object whose class did not declare it',
    'a Response getter on a Request throws the TypeError of reading the field it had of its own';
is $d->{method}, 'TypeError: Cannot read private member #method from an object whose class did not declare it',
    'so does a Request getter on a Response';
is $d->{url}, 'TypeError: Receiver must be an instance of class Request', 'and one that called a private method, that method\'s';
is $d->{nothing}, 'TypeError: Cannot read properties of undefined (reading \'Response\')', 'on undefined too';
is $d->{crossed}, '', 'Body\'s methods read a Request\'s body whichever subclass\'s prototype they were taken from';
is_deeply [@$d{qw(mine mineUsed instance)}], ['subclassed', $T, $T], 'a tenant\'s subclass of Response has a body it reads, and is a Response and a Body';

$d = decode_json($t->get('/t/lineage/x')->{content});
is_deeply [@$d{qw(shared instances)}], [$T, $T], 'Request and Response share Body\'s prototype, and their instances are Bodies';
is $d->{made}, 'TypeError: Illegal constructor', 'Body itself cannot be constructed';
is_deeply [@$d{qw(called swapped)}], [0, 200], 'a constructor put in place of Body is never called: new Response works the same';
is $d->{mine}, 'http://x/y', 'a tenant\'s subclass of Request is a Request with its URL';

$r = $t->request('POST', '/t/shadowed/x?q=1', content => 'posted');
is $r->{status}, 200, 'a script that plants getters and setters on Object.prototype under the records\' names is served' or diag $r->{content};
$d = decode_json($r->{content});
like $d->{result}{url}, qr{^http://[^/]+/t/shadowed/x\?q=1$}, 'its request.url is the client\'s';
is_deeply [@{$d->{result}}{qw(method text used made json status cf)}], ['POST', 'posted', $T, 'made', '{"n":1}', 200, 0],
    'its request and its Responses read as without them';
is_deeply $d->{calls}, [], 'and none of them is ever called';

done_testing;
