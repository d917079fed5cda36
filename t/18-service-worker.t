#!/usr/bin/perl
# SPEC 3 and 5: a script stored with `format` = `service-worker` is a
# classic script that registers addEventListener("fetch", e =>
# e.respondWith(...)); respondWith takes a Response or a promise of one.
# Failures answer as in the module format. (Bindings as globals: issue 5.)
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);

sub sw { my ($name, $code) = @_; $t->put_script('tenants', $name, $code, format => 'service-worker') }

sw('hello', q{
    addEventListener("fetch", e => e.respondWith(new Response("hello from a service worker\n")));
});
my $r = $t->get('/t/hello');
is $r->{status}, 200, 'a service worker answers through respondWith(Response)';
is $r->{content}, "hello from a service worker\n", 'with its body';

sw('echo', q{
    addEventListener("fetch", event => {
      event.respondWith(handle(event.request));
    });
    async function handle(request) {
      const body = await request.text();
      await null;
      return new Response(JSON.stringify({ method: request.method, url: request.url, body }), {
        status: 201,
        headers: { "content-type": "application/json", "x-sw": "yes" },
      });
    }
});
$r = $t->request('POST', '/t/echo?q=1', host => 'sw.example', content => 'payload');
is $r->{status}, 201, 'respondWith(promise) answers with the promised Response\'s status';
is $r->{headers}{'x-sw'}, 'yes', 'and its headers';
like $r->{content}, qr/"method":"POST"/, 'event.request has the method';
like $r->{content}, qr{"url":"http://sw\.example/t/echo\?q=1"}, 'the full URL';
like $r->{content}, qr/"body":"payload"/, 'and the body';

sw('event', q{
    addEventListener("fetch", e => {
      e.respondWith(new Response(`${e.type} ${e.request instanceof Request} ${typeof e.waitUntil}`));
    });
});
is $t->get('/t/event')->{content}, 'fetch true function',
    'the event is a "fetch" event with a Request and waitUntil';

sw('counter', q{
    let n = 0;
    addEventListener("fetch", e => e.respondWith(new Response(String(++n))));
});
is join(',', map { $t->get('/t/counter')->{content} } 1 .. 3), '1,2,3',
    'global state persists between requests, as in the module format';

$t->put_script('tenants', 'module', q{
    export default { fetch() { return new Response("module\n"); } };
});
is $t->get('/t/module')->{content}, "module\n", 'a module-format script in the same namespace still works';
is $t->get('/t/hello')->{content}, "hello from a service worker\n", 'side by side with the service worker';

# failures answer as in the module format
sw('throws', q{
    addEventListener("fetch", e => { throw new Error("sw boom"); });
});
$r = $t->get('/t/throws');
is $r->{status}, 500, 'a listener that throws is 500';
is $r->{content}, "exception\n", 'named exception';
ok $t->wait_for(sub { $t->error_log =~ /dispatch "tenants\/throws".*sw boom/ }),
    'the exception goes to the error log, tagged with the script';

sw('rejects', q{
    addEventListener("fetch", e => e.respondWith(Promise.reject(new Error("sw rejected"))));
});
$r = $t->get('/t/rejects');
is $r->{status}, 500, 'respondWith(a rejected promise) is 500';
is $r->{content}, "exception\n", 'named exception';

sw('notresp', q{
    addEventListener("fetch", e => e.respondWith({ status: 200, body: "fake" }));
});
is $t->get('/t/notresp')->{status}, 500, 'respondWith(something that is not a Response) is 500';

sw('nolistener', q{ const nothing = 1; });
$r = $t->get('/t/nolistener');
is $r->{status}, 500, 'a service worker without a fetch listener is 500';
is $r->{content}, "exception\n", 'named exception';

sw('syntax', "addEventListener('fetch', e => e.respondWith(new Response('x'));\n");
is $t->get('/t/syntax')->{status}, 500, 'a service worker that does not compile is 500';

# limits apply as well
sw('spin', q{
    addEventListener("fetch", e => { for (;;) {} });
});
$r = $t->get('/t/spin', timeout => 20);
is $r->{status}, 503, 'a service worker that loops forever is stopped with 503';
is $r->{content}, "exceeded_cpu\n", 'named exceeded_cpu';
is $t->get('/t/hello')->{status}, 200, 'and the next service worker answers right after';

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
