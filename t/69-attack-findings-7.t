#!/usr/bin/perl
# Findings of a seventh attack (branch attack7), on the last session's
# performance work: the CPU clock read about once a millisecond
# (CpuClockFloor), the heap measured after a short turn only when it could
# have grown past the limit (MemoryBudget::check_after_turn), the request
# path's JavaScript (lazy Headers, Body's one field, ExecutionContext from a
# module variable), RequestScope blocks kept for the next request and heap
# chunks passed between isolates (PageRecycler). A hostile tenant and a
# hostile client who have read README.md and SPEC.md. Each case asserts what
# the README promises; those that held stay as regression tests.
#
# Found and fixed: (1) a request whose turn took its isolate past
# dispatch_memory_limit was answered 200 before the heap was judged;
# (2) a streamed body cut by a limit was logged ok, with the CPU only until
# its header, and counted ok by dispatch_status; (3) a client dripping a
# small body a byte at a time ran any script that reads it into
# exceeded_cpu (a turn per piece), and with a few requests into the
# penalty box; an upstream dripping a fetch() response body did the same.
#
# Tried and held (read, not kept as tests): CpuClockFloor's reuse of a
# reading (only ever earlier than the true start: deadlines stricter, long
# turns charged more); check_after_turn's skip (V8 10.2 allocates at about
# 2-4 GB/s here, a turn of 0.2 ms cannot add 6.4 MB); RequestScope's kept
# blocks (every member has an initialiser; request ids are never reused);
# PageRecycler (chunks of another size or alignment are never kept, kept
# ones are zeroed or dropped before reuse); the pool's pool_slot and the
# metrics' pointer (unlinked wherever a slot goes; drain ids are global);
# Object.setPrototypeOf(Response, F) hybrids (only TypeErrors).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile qw(raw_request);
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use POSIX ();

my $t = Dispatch::Test->new(
    workers => 1,
    http    => q{
        log_format attack7 '$dispatch_script|$dispatch_outcome|$dispatch_cpu_ms';
        dispatch_fetch_allow 127.0.0.1/32;
        dispatch_memory_limit 16m;
        dispatch_cpu_limit 100ms;
    },
    server => q{
        access_log %%PREFIX%%/attack7.log attack7;
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        # room for a script to reach its memory limit before its CPU limit
        location ~ ^/m/(?<script>[^/]*) { dispatch_cpu_limit 2s; dispatch tenants $script; }
        location = /status { allow 127.0.0.1; deny all; dispatch_status; }
    },
);
$t->put_script('tenants', 'good', q{
    let n = 0;
    export default { fetch() { return new Response('good:' + ++n); } };
});
$t->start;
my @workers = $t->worker_pids;
my ($worker) = @workers;

# The event-loop thread's CPU time so far, in ms (the scheduler's count).
sub loop_cpu_ms {
    open my $fh, '<', "/proc/$worker/task/$worker/schedstat" or return undef;
    my ($ns) = split ' ', scalar <$fh>;
    return $ns / 1e6;
}

sub rss_kb {
    open my $fh, '<', "/proc/$worker/status" or return 0;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return 0;
}

# The access-log fields (outcome, cpu_ms) of the requests of a script.
sub log_lines_of {
    my ($script, $want) = @_;
    my @lines;
    $t->wait_for(sub {
        @lines = map { [ (split /\|/)[1, 2] ] } grep { /^\Q$script\E\|/ } split /\n/, $t->read_prefix_file('attack7.log');
        @lines >= $want;
    }, timeout => 10);
    return @lines;
}

# The error log's lines about a script (for a failure's diagnostics).
sub log_of {
    my ($script) = @_;
    return join "\n", grep { /tenants\/\Q$script\E"/ } split /\n/, $t->error_log;
}

my $good = 0;
sub good_answers {
    my ($name) = @_;
    $good++;
    is $t->get('/t/good')->{content}, "good:$good", "$name: another tenant answers right after, its state intact";
    is_deeply [ $t->worker_pids ], \@workers, "$name: the worker process is the same";
}

# ---------------------------------------------------------------------------
# CPU: a turn shorter than 1 ms is charged its wall time, and one that
# starts within 1 ms of the last CPU-clock read starts from that reading.
# Endless sub-millisecond timer turns must still be stopped at the limit:
# the CPU the worker spends on them is the limit and a few watchdog ticks,
# and the figure logged is never less than what was spent.
$t->put_script('tenants', 'short-turns', q{
    function spin(n) { let x = 0; for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003; return x; }
    export default {
      async fetch() {
        // about 0.1-0.3 ms a turn, 20,000 turns: seconds of CPU in all
        for (let i = 0; i < 20000; i++) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          spin(20000);
        }
        return new Response('never stopped');
      },
    };
});
{
    my $before = loop_cpu_ms();
    my $t0 = time;
    my $r = $t->get('/t/short-turns', timeout => 30);
    my $spent = loop_cpu_ms() - $before;
    is $r->{status}, 503, 'endless sub-millisecond timer turns are stopped';
    is $r->{content}, "exceeded_cpu\n", 'with exceeded_cpu';
    cmp_ok $spent, '<=', 100 * 1.5 + 40,
        sprintf('the worker spent about the 100 ms limit on them (%.1f ms in %.1f s)', $spent, time - $t0);
    my ($line) = log_lines_of('short-turns', 1);
    is $line->[0], 'exceeded_cpu', '$dispatch_outcome says exceeded_cpu';
    cmp_ok $line->[1], '>=', 100, "\$dispatch_cpu_ms ($line->[1]) is at least the limit it was stopped at";
    cmp_ok $line->[1], '>=', 0.7 * $spent, 'and most of what the worker spent (the rest is the event loop between turns)';
    good_answers('short turns');
}

# The same after the response: ctx.waitUntil work of endless short turns
# is stopped at the request's CPU limit too, not after 30 s of lingering.
$t->put_script('tenants', 'short-linger', q{
    function spin(n) { let x = 0; for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003; return x; }
    async function work() {
      for (let i = 0; i < 20000; i++) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        spin(20000);
      }
    }
    export default {
      fetch(request, env, ctx) {
        ctx.waitUntil(work());
        return new Response('sent');
      },
    };
});
{
    my $before = loop_cpu_ms();
    my $r = $t->get('/t/short-linger', timeout => 30);
    is $r->{content}, 'sent', 'a response with endless short waitUntil turns behind it is sent';
    my $stopped = $t->wait_for(sub { $t->error_log =~ /tenants\/short-linger.*exceeded_cpu|exceeded_cpu.*tenants\/short-linger/ },
        timeout => 15);
    ok $stopped, 'its waitUntil work is stopped with exceeded_cpu';
    sleep 0.5;
    my $spent = loop_cpu_ms() - $before;
    cmp_ok $spent, '<=', 100 * 1.5 + 60, sprintf('the worker spent about the 100 ms limit on it (%.1f ms)', $spent);
    good_answers('short waitUntil turns');
}

# Many requests of one tenant, each a burst of short turns under the
# limit: each is charged at least what the worker spent on it.
$t->put_script('tenants', 'bursts', q{
    function spin(n) { let x = 0; for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003; return x; }
    export default {
      async fetch() {
        let x = 0;
        for (let i = 0; i < 40; i++) { await new Promise((resolve) => setTimeout(resolve, 0)); x += spin(5000); }
        return new Response('burst:' + x);
      },
    };
});
{
    $t->get('/t/bursts');    # its isolate made before the count
    my $before = loop_cpu_ms();
    my @r = $t->parallel([ map { +{ path => '/t/bursts' } } 1 .. 30 ], concurrency => 10, timeout => 60);
    my $spent = loop_cpu_ms() - $before;
    is scalar(grep { $_->{status} == 200 } @r), 30, 'thirty requests of short turns under the limit all answer';
    my @lines = log_lines_of('bursts', 31);
    shift @lines;
    my $charged = 0;
    $charged += $_->[1] for @lines;
    cmp_ok $charged, '>=', 0.7 * $spent,
        sprintf('together they are charged most of the CPU the worker spent (%.1f of %.1f ms)', $charged, $spent);
}

# Work inside native calls (digest, compression, JSON, RegExp), a short
# turn each: stopped at the limit all the same, and charged at least it.
$t->put_script('tenants', 'native-turns', q{
    export default {
      async fetch() {
        const data = new Uint8Array(1 << 16).fill(7);
        const text = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ i, s: 'x' + i })));
        for (let i = 0; i < 100000; i++) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          await crypto.subtle.digest('SHA-256', data);
          JSON.parse(text);
          /(a+)+b/.test('a'.repeat(14));
          const z = new Blob([data]).stream().pipeThrough(new CompressionStream('gzip'));
          await new Response(z).arrayBuffer();
        }
        return new Response('never stopped');
      },
    };
});
{
    my $before = loop_cpu_ms();
    my $r = $t->get('/t/native-turns', timeout => 30);
    my $spent = loop_cpu_ms() - $before;
    is "$r->{status} $r->{content}", "503 exceeded_cpu\n", 'endless short turns of native work are stopped with exceeded_cpu';
    cmp_ok $spent, '<=', 100 * 1.5 + 40, sprintf('the worker spent about the 100 ms limit on them (%.1f ms)', $spent);
    my ($line) = log_lines_of('native-turns', 1);
    cmp_ok $line->[1], '>=', 100, "\$dispatch_cpu_ms ($line->[1]) is at least the limit";
    good_answers('native work in short turns');
}

# A streamed response whose pull() works a little per piece, as the client
# reads: its pieces' turns add up to the limit, and the body is cut there.
# Found: $dispatch_outcome said ok and $dispatch_cpu_ms only the CPU until
# the response's header (a few ms), for a body the CPU limit cut after
# 100 ms; dispatch_status counted it ok too. The variables are read from the
# engine until it lets go of the request, and a body a limit cut ends the
# request with that limit.
$t->put_script('tenants', 'stream-pulls', q{
    function spin(n) { let x = 0; for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003; return x; }
    export default {
      fetch() {
        let n = 0;
        const body = new ReadableStream({
          pull(controller) {
            spin(20000);
            controller.enqueue(new TextEncoder().encode('piece ' + n++ + '\n'));
            if (n === 50000) controller.close();
          },
        });
        return new Response(body);
      },
    };
});
{
    my $before = loop_cpu_ms();
    # one try: a client library would retry the cut response
    my $r = raw_request($t, '/t/stream-pulls', timeout => 30);
    my $spent = loop_cpu_ms() - $before;
    my $raw = $r->{raw};
    like $r->{status_line}, qr/^HTTP\/1\.1 200/, 'its response starts 200';
    my $pieces = () = $raw =~ /piece \d+/g;
    cmp_ok $pieces, '<', 50000, "a streamed body of endless pulls is cut ($pieces pieces sent)";
    ok $t->wait_for(sub { $t->error_log =~ /tenants\/stream-pulls.*exceeded_cpu/ }, timeout => 10),
        'the error log says exceeded_cpu';
    cmp_ok $spent, '<=', 100 * 1.5 + 40, sprintf('the worker spent about the 100 ms limit on it (%.1f ms)', $spent);
    my ($line) = log_lines_of('stream-pulls', 1);
    is $line->[0], 'exceeded_cpu', '$dispatch_outcome names the limit that cut the body';
    cmp_ok $line->[1], '>=', 100, "\$dispatch_cpu_ms ($line->[1]) counts the pieces' turns: at least the limit";
    my $status = '';
    ok $t->wait_for(sub {
        $status = $t->get('/status')->{content} // '';
        $status =~ /^dispatch_requests_total\{[^}]*script="stream-pulls"[^}]*outcome="exceeded_cpu"\} 1$/m;
    }, timeout => 15), 'dispatch_status counts it as exceeded_cpu'
        or diag join "\n", grep { /stream-pulls/ } split /\n/, $status;
    good_answers('streamed body of pulls');
}

# The same for a body whose pulls grow the heap past the memory limit:
# cut, and logged exceeded_memory.
$t->put_script('tenants', 'stream-grows', q{
    const keep = [];
    export default {
      fetch() {
        let n = 0;
        const body = new ReadableStream({
          pull(controller) {
            keep.push(new Array(65536).fill(n + 0.5));
            controller.enqueue(new TextEncoder().encode('piece ' + n++ + '\n'));
          },
        });
        return new Response(body);
      },
    };
});
{
    my $r = raw_request($t, '/m/stream-grows', timeout => 30);
    like $r->{status_line}, qr/^HTTP\/1\.1 200/, 'a streamed body whose pulls grow the heap starts 200';
    my ($line) = log_lines_of('stream-grows', 1);
    is $line->[0], 'exceeded_memory', 'and, cut at the memory limit, is logged exceeded_memory';
    good_answers('streamed body growing the heap');
}

# A hostile client drips a small body, one byte per packet: every piece
# handed to the script's waiting read was a turn of its own (~60 us of the
# built-ins' stream code, charged to the script), so a 3000-byte body sent
# byte by byte ran a plain `await request.text()` into exceeded_cpu (and a
# few such requests put the tenant in the penalty box). Now small pieces
# past the first few are held back a little, growing, so that more of
# them go in one read: the script reads it all, well within its limit.
$t->put_script('tenants', 'drip-text', q{
    export default { async fetch(request) { return new Response('got ' + (await request.text()).length); } };
});
$t->put_script('tenants', 'drip-reader', q{
    export default {
      async fetch(request) {
        const reader = request.body.getReader();
        let bytes = 0, reads = 0;
        for (;;) { const { done, value } = await reader.read(); if (done) break; bytes += value.length; reads++; }
        return new Response(`got ${bytes} in ${reads}`);
      },
    };
});
sub drip {
    my ($path, $n) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Proto => 'tcp')
        or return "connect: $!";
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    local $SIG{PIPE} = 'IGNORE';
    syswrite $s, "POST $path HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    for (1 .. $n) { syswrite($s, "1\r\nX\r\n") or last; sleep 0.0002 }
    syswrite $s, "0\r\n\r\n";
    my $raw = '';
    my $end = time + 30;
    while (time < $end) { my $got = sysread($s, $raw, 65536, length $raw); last unless $got }
    close $s;
    my ($status) = $raw =~ /^HTTP\/1\.1 (\d+)/;
    my ($body) = $raw =~ /\r\n\r\n(.*)\z/s;
    return ($status // 0) . ' ' . ($body // '');
}
{
    is drip('/t/drip-text', 3000), '200 got 3000', 'a body dripped a byte at a time is read whole by request.text()';
    my ($text) = log_lines_of('drip-text', 1);
    # (turns under 1 ms are charged their wall time: generous for a loaded machine)
    cmp_ok $text->[1], '<', 80, "within its 100 ms CPU limit ($text->[1] ms)";
    my $r = drip('/t/drip-reader', 3000);
    like $r, qr/^200 got 3000 in (\d+)$/, 'and by a reader loop';
    my ($reads) = $r =~ / in (\d+)$/;
    cmp_ok $reads // 3000, '<', 300, 'in far fewer reads than pieces';
    my ($loop) = log_lines_of('drip-reader', 1);
    cmp_ok $loop->[1], '<', 80, "within its CPU limit too ($loop->[1] ms)";
}

# (stopped by its PID however the test ends)
our $drip_upstream = 0;
END { if ($drip_upstream) { kill 'TERM', $drip_upstream; waitpid $drip_upstream, 0 } }
# The same from an upstream: a fetch() whose response body comes a byte
# per packet (a script that fetches what its clients name can be pointed
# at one) cost the script a turn per byte; now its small pieces are paced
# as a request body's are.
{
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 5,
                                       Proto => 'tcp', ReuseAddr => 1) or die "listen: $!";
    my $port = $listen->sockport;
    my $pid = $drip_upstream = fork // die "fork: $!";
    if ($pid == 0) {
        local $SIG{PIPE} = 'IGNORE';
        while (my $c = $listen->accept) {
            setsockopt($c, IPPROTO_TCP, TCP_NODELAY, 1);
            my $head = '';
            while ($head !~ /\r\n\r\n/) { sysread($c, $head, 4096, length $head) or last }
            syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            for (1 .. 3000) { syswrite($c, "1\r\nX\r\n") or last; sleep 0.0002 }
            syswrite $c, "0\r\n\r\n";
            close $c;
        }
        POSIX::_exit(0);
    }
    close $listen;
    $t->put_script('tenants', 'drip-upstream', qq{
        export default {
          async fetch() {
            const upstream = await fetch('http://127.0.0.1:$port/drip');
            return new Response('got ' + (await upstream.text()).length);
          },
        };
    });
    my $r = $t->get('/t/drip-upstream', timeout => 30);
    is "$r->{status} $r->{content}", '200 got 3000', 'a fetch() response dripped a byte at a time is read whole';
    my ($line) = log_lines_of('drip-upstream', 1);
    cmp_ok $line->[1], '<', 80, "within the script's 100 ms CPU limit ($line->[1] ms)";
    kill 'TERM', $pid;
    waitpid $pid, 0;
    $drip_upstream = 0;
}

# ---------------------------------------------------------------------------
# Memory: a heap grown in many short turns, 512 KB each, within one
# request, is stopped at the 16 MB limit (exceeded_memory), whatever turns
# were not measured.
$t->put_script('tenants', 'grow-turns', q{
    const keep = [];
    export default {
      async fetch() {
        for (let i = 0; i < 200; i++) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          keep.push(new Array(65536).fill(i + 0.5));
        }
        return new Response('held ' + keep.length);
      },
    };
});
{
    my $r = $t->get('/t/grow-turns', timeout => 30);
    is $r->{status}, 503, 'a heap grown 512 KB a turn past the limit in one request is stopped';
    is $r->{content}, "exceeded_memory\n", 'with exceeded_memory';
    good_answers('heap grown in short turns');
}

# Per request, in one short turn each, 2 MB more: every request the
# isolate answers is one of the same isolate (1, 2, 3, ...), and the one
# whose turn takes it past the limit is not answered 200 but fails with
# exceeded_memory. Found: its response was taken before the heap was
# judged, so it went out 200 and only then was the isolate stopped (with
# "0 request(s) in flight"); the next request started over in a new
# isolate. Now a turn's memory is judged before the responses it settled
# are taken, as a Wasm memory's already was.
$t->put_script('tenants', 'grow-requests', q{
    const keep = [];
    export default {
      fetch() {
        keep.push(new Array(131072).fill(1.5), new Array(131072).fill(2.5));
        return new Response(String(keep.length / 2));
      },
    };
});
{
    my @answers;
    for (1 .. 12) {
        my $r = $t->get('/t/grow-requests');
        push @answers, $r->{status} == 200 ? $r->{content} : "$r->{status} $r->{content}";
        last if $r->{status} != 200;
    }
    my $last = pop @answers;
    is $last, "503 exceeded_memory\n", 'a heap grown 2 MB per request ends with a request that fails with exceeded_memory'
        or diag "answers: @answers $last";
    is "@answers", join(' ', 1 .. scalar @answers), 'every request before it was answered by the same, growing isolate';
    cmp_ok scalar(@answers) * 2, '<=', 16, 'none of them with more than the 16 MB limit held';
}

# Builtins that allocate a lot at once, in a turn of their own: each fails
# its request with the memory outcome, and the worker lives on.
my %builtins = (
    'array-concat'    => q{ let a = new Array(100000).fill(1.5); for (;;) a = a.concat(a); },
    'array-flat'      => q{ const a = new Array(1000).fill(new Array(1000).fill(1.5)); const k = []; for (;;) k.push(a.flat()); },
    'string-join'     => q{ const a = new Array(1 << 20).fill('xxxxxxxx'); const k = []; for (;;) k.push(a.join('')); },
    'string-padstart' => q{ const k = []; for (let i = 0; ; i++) k.push(String(i).padStart(1 << 22, 'ab').split('')); },
    'structured-clone'=> q{ const a = new Array(1 << 18).fill(1.5); const k = []; for (;;) k.push(structuredClone(a)); },
    'typed-from'      => q{ const k = []; for (;;) k.push(Float64Array.from({ length: 1 << 20 }, (_, i) => i)); },
    'json-parse'      => q{ const s = '[' + new Array(1 << 18).fill('1.5').join(',') + ']'; const k = []; for (;;) k.push(JSON.parse(s)); },
);
# (A builtin the memory guards bound first throws a RangeError instead.)
for my $name (sort keys %builtins) {
    $t->put_script('tenants', "bi-$name", qq{
        export default {
          async fetch() {
            await new Promise((resolve) => setTimeout(resolve, 0));
            try {
              $builtins{$name}
            } catch (e) {
              if (e instanceof RangeError && /memory limit/.test(e.message)) return new Response('refused');
              throw e;
            }
          },
        };
    });
    my $r = $t->get("/m/bi-$name", timeout => 30);
    like "$r->{status} $r->{content}", qr/^(?:503 exceeded_memory\n|200 refused)\z/,
        "$name without end fails with exceeded_memory (or is refused)"
        or diag log_of("bi-$name");
    is_deeply [ $t->worker_pids ], \@workers, "$name: the worker process is the same";
}
good_answers('builtins that allocate at once');

# ---------------------------------------------------------------------------
# The heap chunks of isolates that died at their limit are kept for new
# isolates (64 MiB at most): the worker's RSS stays bounded however many
# tenants grow to their limit one after another.
{
    $t->put_script('tenants', "fill-0", q{
        const keep = [];
        export default { fetch() { for (;;) keep.push(new Array(65536).fill(0.5)); } };
    });
    $t->get('/t/fill-0', timeout => 30);
    my $rss_before = rss_kb();
    my $failed = 0;
    for my $i (1 .. 15) {
        $t->put_script('tenants', "fill-$i", q{
            const keep = [];
            export default { fetch() { for (;;) keep.push(new Array(65536).fill(0.5)); } };
        });
        my $r = $t->get("/t/fill-$i", timeout => 30);
        $failed++ if $r->{status} == 503 && $r->{content} eq "exceeded_memory\n";
    }
    is $failed, 15, 'fifteen tenants that each grow to the limit all fail with exceeded_memory';
    my $rss_after = rss_kb();
    cmp_ok $rss_after - $rss_before, '<=', 96 * 1024,
        sprintf('the worker\'s RSS grows by %d KB at most the kept chunks (64 MiB) and some', $rss_after - $rss_before);
    good_answers('tenants growing to their limit one after another');
}

# A new tenant's fresh memory never holds a tenant's bytes from before:
# the first fills its heap and ArrayBuffers with a marker and dies at its
# limit (its chunks and buffers freed, then reused); the second looks at
# everything it can get without writing it first.
$t->put_script('tenants', 'marker-writer', q{
    const keep = [];
    export default {
      fetch() {
        for (let i = 0; i < 40; i++) new Uint8Array(1 << 18).fill(0x5a); // freed buffers
        for (let i = 0; i < 8; i++) new Uint8Array(new WebAssembly.Memory({ initial: 4, maximum: 4 }).buffer).fill(0x5a);
        for (;;) keep.push('ZZZZZZZZ'.repeat(1 << 14).split('').join(''), new Array(8192).fill(0x5a5a5a5a));
      },
    };
});
$t->put_script('tenants', 'marker-reader', q{
    function marked(bytes) {
      for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return true;
      return false;
    }
    export default {
      fetch() {
        const seen = [];
        const n = 1 << 18;
        if (marked(new Uint8Array(new ArrayBuffer(n)))) seen.push('ArrayBuffer');
        if (marked(new Uint8Array(n))) seen.push('Uint8Array');
        if (marked(new Uint8Array(new Float64Array(n / 8).buffer))) seen.push('Float64Array');
        if (marked(new Uint8Array(new ArrayBuffer(n * 2).slice(n)))) seen.push('slice');
        if (marked(new Uint8Array({ length: n }))) seen.push('array-like');
        if (marked(new Uint8Array(new Uint8Array(n).subarray(7).slice()))) seen.push('typed slice');
        if (marked(new Uint8Array(structuredClone(new Uint8Array(n))))) seen.push('structuredClone');
        const wasm = new WebAssembly.Memory({ initial: 4, maximum: 8 });
        if (marked(new Uint8Array(wasm.buffer))) seen.push('wasm memory');
        wasm.grow(4);
        if (marked(new Uint8Array(wasm.buffer))) seen.push('wasm memory grown');
        const holes = new Array(n);
        for (let i = 0; i < n; i++) if (holes[i] !== undefined) { seen.push('holes'); break; }
        return new Response(seen.length ? 'stale: ' + seen.join(',') : 'clean');
      },
    };
});
{
    my $w = $t->get('/m/marker-writer', timeout => 30);
    is "$w->{status} $w->{content}", "503 exceeded_memory\n", 'the marker writer dies at its limit'
        or diag log_of('marker-writer');
    sleep 0.2;    # its isolate disposed, its chunks kept
    is $t->get('/t/marker-reader')->{content}, 'clean', 'a new tenant\'s buffers, typed arrays and holes hold none of its bytes';
}

# ---------------------------------------------------------------------------
# RequestScope blocks are kept for the next requests: nothing of a request
# (its headers, URL, body, cf) reaches another tenant's request, however
# the two interleave.
$t->put_script('tenants', 'echo', q{
    export default {
      async fetch(request) {
        const parts = [request.method, request.url, JSON.stringify([...request.headers]), JSON.stringify(request.cf),
          await request.text()];
        return new Response(parts.join('\n'));
      },
    };
});
{
    my @reqs;
    for my $i (1 .. 60) {
        push @reqs, { method => 'POST', path => "/t/good?secret-url-$i",
                      headers => { 'X-Secret' => "secret-header-$i", 'Content-Type' => 'text/plain' },
                      content => "secret-body-$i" x 50 };
        push @reqs, { path => "/t/echo?plain-$i" };
    }
    my @r = $t->parallel(\@reqs, concurrency => 20, timeout => 60);
    my @echoes = map { $r[2 * $_ + 1] } 0 .. 59;
    is scalar(grep { $_->{status} == 200 } @echoes), 60, 'sixty echo requests between sixty others all answer';
    is scalar(grep { $_->{content} =~ /secret/ } @echoes), 0,
        'none of them sees another request\'s URL, header or body';
    is scalar(grep { $_->{content} =~ /^GET\nhttp:\/\/[^\n]*\/t\/echo\?plain-\d+\n/ } @echoes), 60, 'each sees its own URL';
    $good += 60;
}

# ---------------------------------------------------------------------------
# The request path's JavaScript.

# ExecutionContext's field reads the module's executionContextId before the
# constructor looks at its token: a forged one must still get nothing.
$t->put_script('tenants', 'forge-ctx', q{
    export default {
      async fetch(request, env, ctx) {
        const C = ctx.constructor;
        const tries = {
          plain: () => new C(),
          symbol: () => new C(Symbol('INTERNAL')),
          token: () => new C(ctx),
          other: () => Reflect.construct(C, [undefined], Object),
          sub: () => { class S extends C { constructor() { super(undefined); } } return new S(); },
          call: () => C.prototype.waitUntil.call({}, Promise.resolve()),
          proto: () => Object.create(C.prototype).waitUntil(Promise.resolve()),
        };
        const out = [];
        for (const [name, make] of Object.entries(tries)) {
          try { make(); out.push(name + ':made'); } catch (e) { out.push(name + ':' + e.name); }
        }
        return new Response(out.join(' '));
      },
    };
});
is $t->get('/t/forge-ctx')->{content},
    'plain:TypeError symbol:TypeError token:TypeError other:TypeError sub:TypeError call:TypeError proto:TypeError',
    'an ExecutionContext cannot be made or borrowed without the engine\'s token';

# A ctx kept from an earlier request, used in a later one (and after the
# earlier one ended): no crash, and the later request is answered.
$t->put_script('tenants', 'old-ctx', q{
    let saved = null;
    export default {
      async fetch(request, env, ctx) {
        const old = saved;
        saved = ctx;
        if (old === null) return new Response('first');
        let how = 'accepted';
        try { old.waitUntil(new Promise((resolve) => setTimeout(resolve, 20))); } catch (e) { how = e.name; }
        return new Response('later ' + how);
      },
    };
});
{
    is $t->get('/t/old-ctx')->{content}, 'first', 'a tenant keeps its first request\'s ctx';
    my $r = $t->get('/t/old-ctx');
    is $r->{status}, 200, 'a later request that calls waitUntil on it is answered';
    sleep 0.1;
    is $t->get('/t/old-ctx')->{status}, 200, 'and so is the next one';
    good_answers('ctx of an ended request');
}

# Headers read, then changed after the handler returned: what was sent is
# what the Response held when it was returned.
$t->put_script('tenants', 'late-headers', q{
    export default {
      fetch() {
        const r = new Response('body', { headers: { 'x-a': 'at-return' } });
        r.headers.set('x-b', 'at-return');
        setTimeout(() => { r.headers.set('x-a', 'late'); r.headers.set('content-type', 'text/evil'); }, 0);
        Promise.resolve().then(() => r.headers.set('x-b', 'microtask'));
        return r;
      },
    };
});
{
    my $r = $t->get('/t/late-headers');
    is $r->{headers}{'x-a'}, 'at-return', 'a header changed by a timer after return is sent as it was';
    is $r->{headers}{'x-b'}, 'at-return', 'as is one changed by a microtask queued before return';
    like $r->{headers}{'content-type'}, qr{^text/plain}, 'and the content type';
}

# Tenant traps on the intrinsics a lazy Response's headers would go
# through, before any header was read: the response is sent as made.
$t->put_script('tenants', 'lazy-traps', q{
    export default {
      fetch() {
        Object.defineProperty(Object.prototype, 'content-type', { get() { return 'text/evil'; }, set() {}, configurable: true });
        Object.defineProperty(Array.prototype, 0, { get() { return 'x-evil'; }, set() {}, configurable: true });
        Object.defineProperty(Array.prototype, 1, { get() { return 'evil'; }, set() {}, configurable: true });
        Object.defineProperty(Array, Symbol.species, { get() { throw new Error('species'); }, configurable: true });
        String.prototype.toLowerCase = () => 'x-evil';
        const plain = new Response('plain');
        const json = Response.json({ a: 1 });
        const read = new Response('read');
        read.headers.append('x-ok', 'yes');
        const pick = new URL('http://x/?' + (Math.random() < 2 ? 'p' : '')).search;
        return pick === '?p' ? read : plain;
      },
    };
});
{
    my $r = $t->get('/t/lazy-traps');
    is $r->{content}, 'read', 'the tampered tenant answers';
    is $r->{headers}{'x-ok'}, 'yes', 'with the header it set';
    like $r->{headers}{'content-type'}, qr{^text/plain}, 'and its own content type';
    ok !exists $r->{headers}{'x-evil'}, 'and no header of the traps';
}

# A Response subclass whose constructor returns another Response, and a
# Proxy of one: what is sent is a real Response's, or an exception.
$t->put_script('tenants', 'swapped', q{
    class Swapped extends Response {
      constructor() { super('from-super'); return new Response('returned', { status: 201 }); }
    }
    export default {
      fetch(request) {
        if (new URL(request.url).search === '?proxy') return new Proxy(new Response('proxied'), {});
        return new Swapped();
      },
    };
});
{
    my $r = $t->get('/t/swapped');
    is "$r->{status} $r->{content}", '201 returned', 'a subclass that returns another Response sends that one';
    $r = $t->get('/t/swapped?proxy');
    is $r->{status}, 500, 'a Proxy of a Response is not sent';
}

# A body read twice, and clone() before and after the headers are made.
$t->put_script('tenants', 'twice', q{
    export default {
      async fetch() {
        const out = [];
        const a = new Response('one');
        const early = a.clone();
        out.push(await a.text());
        try { await a.text(); out.push('read again'); } catch (e) { out.push(e.name); }
        try { a.clone(); out.push('cloned used'); } catch (e) { out.push(e.name); }
        const b = new Response('two');
        b.headers.set('x-b', '1');
        const late = b.clone();
        b.headers.set('x-b', '2');
        out.push(early.headers.get('content-type'), late.headers.get('x-b'), b.headers.get('x-b'), await late.text());
        return new Response(out.join('|'), { headers: early.headers });
      },
    };
});
{
    my $r = $t->get('/t/twice');
    is $r->{content}, 'one|TypeError|TypeError|text/plain;charset=UTF-8|1|2|two',
        'a body is read once, and clones keep their own body and headers whenever they were made';
}

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
$t->stop;
done_testing;
