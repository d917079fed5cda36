#!/usr/bin/perl
# ctx.waitUntil keeps work running after the response without holding the
# client's connection.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use IO::Socket::INET;
use Time::HiRes qw(time);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
$t->put_script('tenants', 'bg', q{
    export default {
      async fetch(request, env, ctx) {
        const path = new URL(request.url).pathname;
        if (path.endsWith('/read')) return new Response((await env.KV.get('done')) ?? 'not yet');
        ctx.waitUntil(new Promise((r) => setTimeout(r, 500)).then(() => env.KV.put('done', 'after the response')));
        ctx.passThroughOnException();
        return new Response('sent');
      }
    };
}, metadata => '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"bg"}]}');

# two requests on one keep-alive connection, by hand
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Proto => 'tcp', Timeout => 10)
    or die "connect: $!";
sub one {
    my ($path) = @_;
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my ($head, $body) = ('', '');
    while (my $line = <$s>) { $head .= $line; last if $line eq "\r\n"; }
    my ($len) = $head =~ /Content-Length: (\d+)/i;
    read $s, $body, $len if $len;
    return $body;
}
my $t0 = time;
is one('/t/bg'), 'sent', 'the response is sent';
my $first = time - $t0;
cmp_ok $first, '<', 0.4, sprintf('before the waitUntil work ends (%.3f s)', $first);
$t0 = time;
is one('/t/bg/read'), 'not yet', 'the next request on the same connection is answered';
cmp_ok time - $t0, '<', 0.4, 'at once, while the work still runs';
close $s;

ok $t->wait_for(sub { $t->get('/t/bg/read')->{content} eq 'after the response' }, timeout => 5),
    'the waitUntil work completes after the response (seen through KV)';
# A worker that is shutting down (a reload) does not wait for work that
# lingers after its response: it would keep it alive for 30 s a reload.
$t->put_script('tenants', 'forever', q{
    export default {
      fetch(request, env, ctx) {
        ctx.waitUntil(new Promise(() => { setInterval(() => {}, 10); }));
        return new Response('sent');
      }
    };
});
my ($old) = $t->worker_pids;
is $t->get('/t/forever')->{content}, 'sent', 'a script leaves work that never ends';
my $t1 = time;
$t->reload;
ok $t->wait_for(sub { !kill 0, $old }, timeout => 10), 'on reload the old worker exits all the same';
cmp_ok time - $t1, '<', 5, sprintf('at once, not after 30 s (%.1f s)', time - $t1);
like $t->error_log, qr/the worker is shutting down: ctx\.waitUntil\(\) work of 1 request\(s\) is stopped/,
    'the error log says the lingering work was stopped';

# import { waitUntil } from 'cloudflare:workers': the same, from code that
# has no ctx, for the request it works for.
$t->put_script('tenants', 'imported', q{
    import { waitUntil } from 'cloudflare:workers';
    function track(env, value) {
      waitUntil(new Promise((r) => setTimeout(r, 200)).then(() => env.KV.put('imported', value)));
    }
    export default {
      async fetch(request, env) {
        if (new URL(request.url).pathname.endsWith('/read')) return new Response((await env.KV.get('imported')) ?? 'not yet');
        await null;
        track(env, 'tracked after the response');
        return new Response('sent');
      }
    };
}, metadata => '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"bg"}]}');
is $t->get('/t/imported')->{content}, 'sent', "waitUntil imported from cloudflare:workers: the response is sent";
ok $t->wait_for(sub { $t->get('/t/imported/read')->{content} eq 'tracked after the response' }, timeout => 5),
    'and the work it was given completes after it';
$t->put_script('tenants', 'importedtop', q{
    import { waitUntil } from 'cloudflare:workers';
    waitUntil(Promise.resolve());
    export default { fetch: () => new Response('never') };
});
is $t->get('/t/importedtop')->{status}, 500, 'waitUntil at the top level throws: there is no request';
ok $t->wait_for(sub { $t->error_log =~ /"tenants\/importedtop": the script failed to start: Error: waitUntil\(\) can only be called while a request is being handled/ }),
    'and the error log says so';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
