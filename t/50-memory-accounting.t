#!/usr/bin/perl
# Issue 10: every byte a tenant can make a worker hold is counted. Memory
# outside V8's heap (WebAssembly memories, ICU objects), pending timers,
# lingering ctx.waitUntil work and response bodies waiting for clients that
# do not read are each charged or capped, with a clear error past the cap;
# the worker lives, and its peak RSS (VmHWM) stays under
# dispatch_worker_memory plus one isolate's heap headroom (1.5 GiB: the room
# V8 keeps above the budget so one huge allocation cannot abort it) plus a
# fixed overhead.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;

my $t = Dispatch::Test->new(
    workers => 1,
    http    => "dispatch_memory_limit 32m;\n    dispatch_worker_memory 128m;\n    dispatch_cpu_limit 2s;",
    server  => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
my ($worker) = my @workers = $t->worker_pids;
$t->put_script('tenants', 'good', q{ export default { fetch() { return new Response('good'); } }; });

sub vm_kb {
    my ($field) = @_;
    return $t->proc_status($worker)->{$field} // 0;
}

sub answers {
    my ($name, $js, $expect, $what) = @_;
    $t->put_script('tenants', $name, $js);
    my $r = $t->get("/t/$name", timeout => 30);
    like "$r->{status} $r->{content}", $expect, $what;
    is_deeply [ $t->worker_pids ], \@workers, "$name: the worker lives";
    is $t->get('/t/good')->{content}, 'good', "$name: a good tenant answers right after";
}

# ---- WebAssembly memories: charged to the isolate, never shared ----

answers('wasm-memories', q{
    const keep = [];
    export default {
      fetch() {
        try { for (;;) keep.push(new WebAssembly.Memory({ initial: 16 })); }   // 1 MiB each
        catch (e) { return new Response(`${e.name} after ${keep.length}`); }
      }
    };
}, qr/^200 RangeError after ([1-9]|[12]\d|3[01])$/,
   'WebAssembly.Memory objects are charged: a RangeError once the 32m limit is spent');

answers('wasm-grow', q{
    export default {
      fetch() {
        const m = new WebAssembly.Memory({ initial: 1 });
        try { for (;;) m.grow(16); }
        catch (e) { return new Response(`${e.name} at ${m.buffer.byteLength >> 20} MiB`); }
      }
    };
}, qr/^200 RangeError at ([0-9]|[12]\d|3[0-2]) MiB$/, 'grow() is charged too');

answers('wasm-shared', q{
    export default {
      fetch() {
        let shared;
        try { shared = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer; }
        catch (e) { shared = e.name; }
        const kind = typeof shared === 'string' ? shared : Object.prototype.toString.call(shared);
        return new Response(`${kind} ${typeof SharedArrayBuffer} ${typeof Atomics.waitAsync} ${typeof Atomics.wait}`);
      }
    };
}, qr/^200 (?:\[object ArrayBuffer\]|TypeError|RangeError) undefined undefined undefined$/,
   'a shared WebAssembly memory hands out no SharedArrayBuffer; no Atomics.wait or waitAsync');

# ---- ICU objects: an estimate each, and a cap ----

answers('intl-kept', q{
    const keep = [];
    export default {
      fetch() {
        try { for (let i = 0; i < 6000; i++) keep.push(new Intl.DateTimeFormat('en', { timeZone: 'UTC' })); }
        catch (e) { return new Response(`${e.name} after ${keep.length}`); }
        return new Response(`kept ${keep.length}`);
      }
    };
# (with its whole budget kept, even the short Response may not fit: 500)
}, qr/^(?:200 RangeError after \d+|500 exception\n)$/,
   'kept Intl.DateTimeFormat objects are charged and capped: a RangeError');

answers('intl-works', q{
    export default {
      fetch() {
        const f = new Intl.NumberFormat('en-US');
        return new Response(`${f.format(1234.5)} ${f instanceof Intl.NumberFormat} ${Intl.DateTimeFormat.name}`);
      }
    };
}, qr/^200 1,234\.5 true DateTimeFormat$/, 'Intl still works as the standard says');

# ---- timers: per request and per isolate ----

answers('timers', q{
    export default {
      fetch() {
        let n = 0;
        try { for (; n < 5000; n++) setTimeout(() => {}, 60000); }
        catch (e) { return new Response(`${e.name}: ${n}: ${e.message}`); }
        return new Response('all set');
      }
    };
}, qr/^200 Error: 1000: at most 1000 timers may be pending per request$/,
   'at most 1000 timers may be pending per request: a clear error past it');

{
    $t->put_script('tenants', 'timers-many', q{
        export default {
          async fetch() {
            let n = 0;
            try { for (; n < 999; n++) setTimeout(() => {}, 60000); } catch (e) {}
            await new Promise((resolve) => setTimeout(resolve, 500));
            return new Response(String(n));
          }
        };
    });
    my @res = $t->parallel([ map { +{ path => '/t/timers-many' } } 1 .. 12 ], concurrency => 12, timeout => 30);
    my $total = 0;
    $total += $_->{content} for grep { $_->{status} == 200 } @res;
    cmp_ok $total, '<=', 10000, "12 requests of 999 timers each: at most 10000 pending in one isolate ($total)";
    cmp_ok $total, '>=', 9000, 'and up to that many are set';
    is scalar(grep { $_->{status} == 200 || "$_->{status} $_->{content}" eq "500 exception\n" } @res), 12,
        'each request answers, or fails with the error its own last setTimeout threw';
    like $t->error_log, qr/at most 10000 timers may be pending in one script's isolate/,
        'the error names the isolate-wide cap';
    is_deeply [ $t->worker_pids ], \@workers, 'the worker lives';
}

# ---- response bodies for clients that do not read ----

$t->put_script('tenants', 'big', q{
    export default { fetch() { return new Response(new Uint8Array(8 << 20).fill(65)); } };   // 8 MiB
});
my $rss0 = vm_kb('VmRSS');
my @slow;
for (1 .. 40) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Proto => 'tcp')
        or die "connect: $!";
    print $s "GET /t/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    push @slow, $s;
}
sleep 2;
my $held_mb = (vm_kb('VmRSS') - $rss0) / 1024;
# a quarter of dispatch_worker_memory (32 MiB) may wait for slow clients,
# beside the isolates (all of them within dispatch_worker_memory, 128 MiB)
cmp_ok $held_mb, '<', 32 + 128 + 32,
    sprintf('40 clients that do not read 8 MiB each: the worker holds %.0f MB more, not 320', $held_mb);
my ($ok, $refused, @other) = (0, 0);
for my $s (@slow) {
    local $/;
    local $SIG{ALRM} = sub { die "read timeout\n" };
    alarm 20;
    my $resp = eval { <$s> } // '';
    alarm 0;
    if ($resp =~ m{^HTTP/1\.1 200 }) { $ok++ }
    elsif ($resp =~ m{^HTTP/1\.1 (?:503|500) } && $resp =~ /overloaded|exceeded_memory|exception|quarantined/) { $refused++ }
    else { push @other, substr($resp, 0, 200) }
    close $s;
}
diag "other answers: @other" if @other;
cmp_ok $ok, '>=', 1, "some are served ($ok)";
cmp_ok $refused, '>=', 1, "the rest are refused once the bound is reached ($refused)";
is $ok + $refused, 40, 'nothing else happens to them';
is_deeply [ $t->worker_pids ], \@workers, 'the worker lives';
is $t->get('/t/good')->{content}, 'good', 'a good tenant answers';

# ---- the bound on the worker's peak RSS ----

my $hwm_mb = vm_kb('VmHWM') / 1024;
cmp_ok $hwm_mb, '<', 128 + 1536 + 256,
    sprintf('peak RSS %.0f MB: under dispatch_worker_memory + one isolate\'s headroom + 256 MB', $hwm_mb);
diag sprintf 'worker peak RSS (VmHWM) through these attacks: %.0f MB', $hwm_mb;
is scalar($t->error_log_alerts), 0, 'no alerts' or diag join "\n", $t->error_log_alerts;
$t->stop;
done_testing;
