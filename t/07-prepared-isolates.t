#!/usr/bin/perl
# Issue 18: isolates prepared ahead of demand (dispatch_prepared_isolates,
# default 2): made from the startup snapshot in idle time, so that a
# script's first request finds one ready; one behaves exactly as an isolate
# made on demand, serves one tenant only, and counts among dispatch_isolates.
# And code caches (dispatch_code_cache): a script's next isolate compiles
# its modules from the caches its first start made, with the same answers;
# a changed module gets none.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use Time::HiRes qw(sleep);

my $LOC = q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } };

sub prepared_starts {
    my ($t, $name) = @_;
    return scalar grep { /\[info\].*dispatch "tenants\/\Q$name\E": starts in a prepared isolate/ } split /\n/, $t->error_log;
}

# What a tenant sees of its isolate: its globals, the built-ins, its own
# changes kept between requests.
my $PROBE = q{
    let requests = 0;
    const top = typeof globalThis.leak;
    globalThis.leak = 'mine';
    export default {
      async fetch(request) {
        requests++;
        const url = new URL(request.url);
        return Response.json({
          requests, top,
          globals: Object.getOwnPropertyNames(globalThis).sort().join(','),
          tampered: typeof URL.prototype.tampered,
          eval: (() => { try { return eval('1'); } catch (e) { return e.name; } })(),
          wasm: typeof WebAssembly.Memory, findLast: String(Array.prototype.findLast).includes('native'),
          text: await new Response('x').text(), path: url.pathname,
        });
      }
    };
};
my $TAMPER = q{
    URL.prototype.tampered = true;
    globalThis.leak = 'from the tamperer';
    export default { fetch() { return new Response('tampered'); } };
};
my $FAILING = q{
    globalThis.leak = 'from a failed top level';
    URL.prototype.tampered = true;
    throw new Error('the top level fails');
};

my %answers;
for my $prepared (2, 0) {
    my $t = Dispatch::Test->new(workers => 1, http => "dispatch_prepared_isolates $prepared;", server => $LOC);
    $t->put_script('tenants', $_->[0], $_->[1]) for [ probe => $PROBE ], [ tamper => $TAMPER ], [ failing => $FAILING ];
    sleep 0.5;  # idle time
    my @seen;
    # idle time after each: the prepared isolates are made again
    push @seen, map { my $r = $t->get("/t/$_"); sleep 0.3; "$r->{status} $r->{content}" } qw(tamper failing probe probe);
    $answers{$prepared} = \@seen;
    if ($prepared) {
        is prepared_starts($t, 'tamper'), 1, 'after idle time, the first request of a script is served by a prepared isolate';
        is $seen[0], '200 tampered', 'and answered by its script';
        is prepared_starts($t, 'failing'), 1, 'the next new script gets the second prepared one';
        like $seen[1], qr/^500 /, 'whose failing top level fails its request as on demand';
        is prepared_starts($t, 'probe'), 1, 'prepared isolates are made again in idle time: the third script gets one';
        like $seen[2], qr/"requests":1,"top":"undefined"/,
            'a prepared isolate never served another tenant: no global of the tamperer or the failed top level';
        like $seen[2], qr/"tampered":"undefined"/, 'nor their changes to the built-ins';
    } else {
        is scalar(() = $t->error_log =~ /starts in a prepared isolate/g), 0, 'dispatch_prepared_isolates 0: none is prepared';
    }
    is scalar($t->error_log_alerts), 0, "no alerts or crashes (dispatch_prepared_isolates $prepared)"
        or diag join "\n", $t->error_log_alerts;
    $t->stop;
}
is_deeply $answers{2}, $answers{0}, 'every answer is the same from prepared isolates as from isolates made on demand';

# Counted among dispatch_isolates: with 2, and both taken by tenants,
# nothing is prepared; a tenant's isolate never gives way to one.
{
    my $t = Dispatch::Test->new(workers => 1, http => "dispatch_isolates 2;\ndispatch_prepared_isolates 2;", server => $LOC);
    $t->put_script('tenants', $_, $PROBE) for qw(a b c);
    sleep 0.5;
    $t->get("/t/$_") for qw(a b);
    sleep 0.5;
    my $r = $t->get('/t/c');
    is prepared_starts($t, 'a') + prepared_starts($t, 'b'), 2, 'the first two tenants took the two prepared isolates';
    is prepared_starts($t, 'c'), 0, 'with both slots of dispatch_isolates 2 taken by tenants, none was prepared for the third';
    like $r->{content}, qr/"requests":1/, 'which is made on demand';
    like $t->get('/t/c')->{content}, qr/"requests":2/, 'and kept';
    $t->stop;
}

# ---- code caches ----

my %MODULES = (
    'module:lib/util.js' => q{ export let loads = 0; loads++; export function shout(s) { return s.toUpperCase() + '!'; } },
    'module:data.js'     => q{ export default { items: [1, 2, 3] }; },
);
my $MAIN = q{
    import { shout, loads } from './lib/util.js';
    import data from './data.js';
    let requests = 0;
    const started = shout('started');
    export default {
      async fetch() {
        requests++;
        const again = await import('./lib/util.js');
        return new Response([started, requests, loads, again.loads, again.shout('x'), data.items.join('+'),
                             typeof globalThis.fromBefore].join(' '));
      }
    };
    globalThis.fromBefore = 1;
};
sub cache_starts {
    my ($t) = @_;
    return [ map { m{"tenants/m": started with (\d+) module\(s\) from the code cache} ? $1 : () } split /\n/, $t->error_log ];
}
my %cached;
for my $size ('64m', '0') {
    # one isolate: each request to the other script evicts m's isolate
    my $t = Dispatch::Test->new(workers => 1, http => "dispatch_isolates 1;\ndispatch_code_cache $size;", server => $LOC);
    $t->put_script('tenants', 'm', $MAIN, %MODULES);
    $t->put_script('tenants', 'other', q{ export default { fetch() { return new Response('other'); } }; });
    my @seen = map { my $r = $t->get("/t/$_"); "$r->{status} $r->{content}" } qw(m m other m other m);
    $cached{$size} = \@seen;
    if ($size) {
        is $seen[0], '200 STARTED! 1 1 1 X! 1+2+3 number', 'a script with modules: its first start';
        is_deeply cache_starts($t), [3, 3], 'its two restarts after an eviction compiled its 3 modules from the code cache';
        # a new version changes one module: the other two keep their caches
        $t->put_script('tenants', 'm', $MAIN, %MODULES, 'module:lib/util.js' => $MODULES{'module:lib/util.js'} =~ s/'!'/'?'/r);
        $t->publish('tenants', 'm');
        # the worker hears the event on its own connection: a request sent
        # at once may still find the old version (CI saw it once, loaded)
        my $now;
        ok $t->wait_for(sub { ($now = $t->get('/t/m')->{content}) =~ /\?/ }, timeout => 5),
            'a new version is served after its event';
        is $now, 'STARTED? 1 1 1 X? 1+2+3 number', 'a changed module is compiled from its new source';
        is cache_starts($t)->[-1], 2, 'and only the two unchanged modules came from the code cache';
    } else {
        is_deeply cache_starts($t), [], 'dispatch_code_cache 0: no module comes from a code cache';
    }
    is scalar($t->error_log_alerts), 0, "no alerts or crashes (dispatch_code_cache $size)" or diag join "\n", $t->error_log_alerts;
    $t->stop;
}
is_deeply $cached{'64m'}, $cached{0}, 'restarts from the code cache answer as restarts without: module imports, top-level state'
    or diag explain \%cached;
is $cached{0}[3], '200 STARTED! 1 1 1 X! 1+2+3 number', 'and each restart starts from a fresh top level';

# An upload through the management API runs the script's top level in a
# scratch isolate: its code cache is made there, so the worker's first
# isolate of that version compiles nothing.
{
    my $t = admin_server(workers => 1);
    envelope_ok(api($t, POST => '', json => { name => 'up' }), 'a namespace for the upload');
    envelope_ok(curl_upload($t, 'up', 'c', metadata => { main_module => 'worker.js' },
        files => [[ 'worker.js', 'worker.js', 'application/javascript+module',
                    q{export default { fetch() { return new Response('uploaded'); } };} ]]), 'the upload');
    is $t->get('/t/up/c')->{content}, 'uploaded', 'the uploaded script serves';
    like $t->error_log, qr{"up/c": started with 1 module\(s\) from the code cache},
        "its first isolate started from the code cache the upload's validation made";
    $t->stop;
}

done_testing;
