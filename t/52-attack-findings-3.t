#!/usr/bin/perl
# Findings of a third attack on the engine (branch attack3), found on
# a9d1d37: request lifecycle, lingering work, the throttle and the worker's
# memory bound. Each case is one finding and asserts the correct behaviour;
# all of them fail on the commit they were found on.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;
use Time::HiRes qw(time sleep);

my $LOC = $Dispatch::Hostile::LOC;
my $GOOD = q{ export default { fetch() { return new Response('good'); } }; };

sub no_alerts {
    my ($t, $logpos, $name) = @_;
    my @alerts = grep { /\[(?:alert|emerg|crit)\]/ || /exited on signal/ }
        split /\n/, substr($t->error_log, $logpos);
    is(scalar(@alerts), 0, "$name: no alert or crash in the error log") or diag join "\n", @alerts[0 .. ($#alerts < 4 ? $#alerts : 4)];
}

# ---------------------------------------------------------------------------
# 1. Throttle escape (and a worker-blocking DoS): a script whose top-level
# code runs past dispatch_startup_cpu_limit (or dispatch_memory_limit) is
# stopped while its isolate is made, on every request, and that is never
# counted as an offence (LimitEnforcer::offence runs only from
# TenantIsolate::condemn, never from a failed TenantIsolate::start). Each
# request blocks the worker's event loop for the whole startup limit (1 s by
# default) for every tenant on it, without end: 12 requests here all answer
# 503 exceeded_cpu after 300 ms each, none is throttled or quarantined.
#     for (;;) {}
# The contract: a script that keeps hitting its CPU or memory limit is
# throttled past 3 recent offences (4 admissions a second, halving).
subtest 'a script stopped at startup by a limit, again and again, is throttled' => sub {
    my $t = Dispatch::Test->new(workers => 1, server => $LOC,
        http => "dispatch_startup_cpu_limit 300ms;\n    dispatch_cpu_limit 50ms;");
    $t->put_script('tenants', 'good', $GOOD);
    for my $case (['spin-top', q{ for (;;) {} export default { fetch() { return new Response('x'); } }; }],
                  ['alloc-top', q{ const a = []; for (;;) a.push(new Array(1e5).fill(1.5));
                                   export default { fetch() { return new Response('x'); } }; }]) {
        my ($name, $js) = @$case;
        my $logpos = length $t->error_log;
        $t->put_script('tenants', $name, $js);
        my %seen;
        for (1 .. 12) {
            my $r = $t->get("/t/$name", timeout => 10);
            $seen{"$r->{status} $r->{content}"}++;
        }
        ok($seen{"503 quarantined\n"}, "$name: 12 requests in a row, some are refused as throttled")
            or diag explain \%seen;
        ok(substr($t->error_log, $logpos) =~ /tenants\/$name": it keeps hitting its limits/,
           "$name: the error log says it is throttled");
        no_alerts($t, $logpos, $name);
    }
    my $g = $t->get('/t/good');
    is("$g->{status} $g->{content}", '200 good', 'a good tenant answers right after');
    $t->stop;
};

# ---------------------------------------------------------------------------
# 2. The worker's memory bound escapes through script versions. A new
# version of a script gets a new isolate; the old one stays alive as long as
# a request on it lingers (ctx.waitUntil, up to 30 s) or runs (up to
# dispatch_wall_limit), but IsolatePool::memory() and make_room() count only
# the isolates still in the pool: retired ones are neither counted against
# dispatch_worker_memory nor against dispatch_isolates. The 100 lingering
# requests a script may keep are counted per isolate too
# (TenantIsolate::oldest_lingering), so each version gets 100 more. A tenant
# that re-uploads (PUBLISH) its script 20 times in 20 s, each version keeping
# 64 MB at the top level and one request lingering, held the worker at
# VmRSS 2.5 GB with dispatch_worker_memory 256m (README's bound:
# dispatch_worker_memory + 1.5 GiB only while a stopped script unwinds +
# about 40 MB), and it grows with every version.
subtest 'isolates of old versions kept alive by lingering work count toward dispatch_worker_memory' => sub {
    my $t = Dispatch::Test->new(workers => 1, server => $LOC,
        http => "dispatch_memory_limit 128m;\n    dispatch_worker_memory 256m;");
    $t->put_script('tenants', 'good', $GOOD);
    my ($w) = $t->worker_pids;
    my $logpos = length $t->error_log;
    my %seen;
    for my $v (1 .. 24) {
        $t->put_script('tenants', 'versions', qq{
            const keep = new Array(8e6).fill($v + 0.5);
            export default { fetch(req, env, ctx) {
              ctx.waitUntil(new Promise(r => setTimeout(r, 25000)));
              return new Response('v$v ' + keep.length);
            } };
        }, etag => "v$v");
        $t->publish('tenants', 'versions');
        my $r = $t->get('/t/versions', timeout => 10);
        $seen{"$r->{status} " . ($r->{content} =~ s/\d+/N/gr)}++;
    }
    my $hwm = ($t->proc_status($w)->{VmHWM} // '0') =~ s/\D//gr;
    my $bound_kb = (256 + 1536 + 64) * 1024;
    cmp_ok($hwm, '<', $bound_kb, 'the worker stays under dispatch_worker_memory + 1.5 GiB + overhead')
        or diag sprintf('VmHWM %d MB; answers: %s', $hwm / 1024, join(', ', map { "$_ x$seen{$_}" } sort keys %seen));
    is_deeply([ $t->worker_pids ], [$w], 'the worker process is the same');
    no_alerts($t, $logpos, 'versions');
    my $g = $t->get('/t/good');
    is("$g->{status} $g->{content}", '200 good', 'a good tenant answers right after');
    $t->stop;
};

# ---------------------------------------------------------------------------
# 3. A request's timers and KV calls are owned by whichever request's turn
# it resumes in. Request B awaits a module-level promise that request A
# resolves (request coalescing, a common Workers pattern); B's continuation
# runs in A's microtask checkpoint, where TenantIsolate::current_ is A, so
# B's setTimeout (set_timer) and KV calls (begin_async) are registered on
# A's RequestScope. A answers at once and ends, which cancels them: B never
# answers and fails 504 exceeded_wall after dispatch_wall_limit. (B's CPU
# is also charged to A.) The contract: "one object owns each request: its
# timers, KV calls ... end together when the request ends" - B's, not A's.
subtest 'a request resumed in another request\'s turn keeps its own timers' => sub {
    my $t = Dispatch::Test->new(workers => 1, server => $LOC, http => 'dispatch_wall_limit 3s;');
    $t->put_script('tenants', 'gate', q{
        let open;
        const gate = new Promise(r => { open = r; });
        export default { async fetch(req) {
          if (new URL(req.url).pathname.endsWith('/open')) { open(); return new Response('opened'); }
          await gate;
          await new Promise(r => setTimeout(r, 100));
          return new Response('waited');
        } };
    });
    my $h = $t->send_request({ path => '/t/gate/wait' });
    sleep 0.3;
    my $o = $t->get('/t/gate/open');
    is("$o->{status} $o->{content}", '200 opened', 'the opener answers');
    my $r = $t->read_response($h, timeout => 10);
    # what the waiter's own timer gives it (or, at the least, a fast error)
    ok(($r->{status} == 200 && $r->{content} eq 'waited') || $r->{status} == 500,
       'the waiter is answered by its own timer, not left to the wall limit')
        or diag sprintf('got %s %s after %.1fs', $r->{status}, $r->{content}, $r->{elapsed});
    cmp_ok($r->{elapsed}, '<', 2, 'within 2 s');
    $t->stop;
};

# ---------------------------------------------------------------------------
# 4. KV list() with a cursor leaves its prefix. The cursor becomes the lower
# bound of the ZRANGEBYLEX ('(' .. cursor) in place of '[' .. prefix, so a
# cursor that sorts before the prefix lists keys that do not start with it:
# list({prefix: 'b', cursor: '61'}) over aa, ab, ba, bb answers
# "aa,ab,ba,bb". (Only the script's own namespace: a correctness bug, but a
# script that walks a prefix with a cursor from another listing sees keys it
# did not ask for.)
subtest 'KV list() with a cursor stays within its prefix' => sub {
    my $t = Dispatch::Test->new(workers => 1, server => $LOC);
    $t->put_script('tenants', 'kvlist', q{
        export default { async fetch(req, env) {
          for (const k of ['aa', 'ab', 'ba', 'bb']) await env.KV.put(k, 'x');
          const r = await env.KV.list({ prefix: 'b', cursor: '61' });   // '61': the key 'a'
          return new Response(r.keys.map(k => k.name).join(','));
        } };
    }, metadata => '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"lst"}]}');
    my $r = $t->get('/t/kvlist');
    is("$r->{status} $r->{content}", '200 ba,bb', 'only the keys with the prefix, past the cursor');
    $t->stop;
};

done_testing;
