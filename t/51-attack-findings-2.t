#!/usr/bin/perl
# Findings of a second attack on the engine (branch attack2), found on
# c66aaca. Each case is one finding and asserts the correct behaviour: a
# limit stops the script (or it gets an exception it can catch), the worker
# process survives, the error log gains no alert, a good tenant answers
# right after; memory a script holds is charged; a client cannot get a
# tenant punished; and plain application code is not refused. All of them
# fail on the commit they were found on.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF pack_sockaddr_in inet_aton);
use Time::HiRes qw(sleep);

my $t = hostile_server(budget => 150);

# What a stopped or refusing script may answer.
my $stopped = [[503, "exceeded_cpu\n"], [503, "exceeded_memory\n"], [200, qr/^RangeError/]];

# ---------------------------------------------------------------------------
# 1. Last resort by the hang timeout: Reflect.apply is not guarded as
# Function.prototype.apply is. CreateListFromArrayLike of {length: 1.3e8}
# fills a 1 GB list in C++ before refusing that many arguments; "JavaScript
# kept running 1001ms after a limit stopped it", the worker exits (1).
# Reflect.construct is the same.
hostile_case($t, 'Reflect.apply with an array-like of length 1.3e8 is stopped by a limit',
    js => q{
        export default { fetch() {
          try { Reflect.apply(Math.max, null, { length: 1.3e8 }); } catch (e) { return new Response(e.name); }
          return new Response('applied');
        } };
    },
    expect => $stopped);

# ---------------------------------------------------------------------------
# 2. Last resort by the hang timeout: the guards read `length` as a property,
# V8 reads a typed array's own length. An own `length` of 0 on a
# Uint8Array(1.2e8) gets it past the apply guard (t/44 case 4 again); the
# Object.keys guard falls the same way (case 3 below).
hostile_case($t, 'apply with a typed array whose length property lies is stopped by a limit',
    js => q{
        export default { fetch() {
          const u = new Uint8Array(1.2e8);
          Object.defineProperty(u, 'length', { value: 0 });
          try { Math.max.apply(null, u); } catch (e) { return new Response(e.name); }
          return new Response('applied');
        } };
    },
    # the guard copies the arguments itself, by the `length` it read once
    # (0 here, as apply itself reads it)
    expect => [@$stopped, [200, 'applied']]);

# ---------------------------------------------------------------------------
# 3. Last resort by the hang timeout: Object.keys of a Uint8Array(1.2e8)
# with an own `length` of 0 passes the guard (t/44 case 3 again).
hostile_case($t, 'Object.keys of a typed array whose length property lies is stopped by a limit',
    js => q{
        export default { fetch() {
          const u = new Uint8Array(1.2e8);
          Object.defineProperty(u, 'length', { value: 0 });
          try { return new Response(String(Object.keys(u).length)); } catch (e) { return new Response(e.name); }
        } };
    },
    expect => $stopped);

# ---------------------------------------------------------------------------
# 4. Last resort by the hang timeout: the other ways to list a typed array's
# keys in one C++ call had no guard: Reflect.ownKeys of a Uint8Array(1.2e8),
# Object.assign({}, a Uint8Array(6e7)), JSON.stringify of a Uint8Array(1e8).
# (for-in over one is syntax no guard can reach: it is left to the last
# resort, as the README says.)
for my $call ('Reflect.ownKeys(u)', 'Object.assign({}, u)', 'JSON.stringify(u)') {
    hostile_case($t, "$call of a 120 MB typed array is refused",
        js => qq{
            export default { fetch() {
              const u = new Uint8Array(1.2e8);
              try { $call; } catch (e) { return new Response(e.name); }
              return new Response('listed');
            } };
        },
        expect => $stopped);
}

# ---------------------------------------------------------------------------
# 5. Last resort at once (0.01 s): a `length` getter that answers 0 to the
# guard and 2**31 to V8 gets a generic sort past its guard: "V8 ran out of
# heap memory (invalid array length)", exit (1) (t/44 case 2 again). With
# 2**50 instead, reverse (and every other length walker) hangs past
# dispatch_hang_timeout (t/44 case 6 again).
hostile_case($t, 'a generic sort whose length getter lies to the guard is refused, not fatal',
    js => q{
        export default { fetch() {
          let n = 0;
          const o = { get length() { return n++ ? 2 ** 31 : 0; } };
          try { Array.prototype.sort.call(o); } catch (e) { return new Response(e.name); }
          return new Response('sorted');
        } };
    },
    # the length the guard read is the one V8 sees (a pinned view): 0
    expect => [@$stopped, [200, 'sorted']]);

# slice bounds only its range, but the length it reads must be V8's too.
hostile_case($t, 'a generic slice whose length getter lies to the guard is not fatal',
    js => q{
        export default { fetch() {
          let n = 0;
          const o = { get length() { return n++ ? 2 ** 31 : 0; } };
          try { Array.prototype.slice.call(o); } catch (e) { return new Response(e.name); }
          return new Response('sliced');
        } };
    },
    expect => [@$stopped, [200, 'sliced']]);

# fill and Array.from read the same way: what their guard read is V8's too.
for my $case (
    [ 'fill', q{Array.prototype.fill.call(o, 1)}, 'done' ],
    [ 'Array.from', q{Array.from(o)}, 'done' ],
) {
    my ($what, $call, $done) = @$case;
    hostile_case($t, "a generic $what whose length getter lies to the guard is not fatal",
        js => qq{
            export default { fetch() {
              let n = 0;
              const o = { get length() { return n++ ? 2 ** 40 : 0; } };
              try { $call; } catch (e) { return new Response(e.name); }
              return new Response('$done');
            } };
        },
        expect => [@$stopped, [200, $done]]);
}
hostile_case($t, 'Array.from of an object whose iterator getter lies is refused, not fatal',
    js => q{
        export default { fetch() {
          let n = 0;
          const o = { length: 2 ** 31, get [Symbol.iterator]() { return n++ ? undefined : function* () {}; } };
          try { Array.from(o); } catch (e) { return new Response(e.name); }
          return new Response('from');
        } };
    },
    expect => [@$stopped, [200, 'TypeError']]);

# ---------------------------------------------------------------------------
# 6. Last resort by the hang timeout: a Symbol.isConcatSpreadable getter
# that says false to the concat guard and true to V8 spreads
# {length: 2**32 - 1}.
hostile_case($t, 'concat of an array-like whose isConcatSpreadable getter lies is stopped by a limit',
    js => q{
        export default { fetch() {
          let n = 0;
          const o = { length: 2 ** 32 - 1, get [Symbol.isConcatSpreadable]() { return n++ > 0; } };
          try { [].concat(o); } catch (e) { return new Response(e.name); }
          return new Response('concatenated');
        } };
    },
    # an object concat would not spread must not be able to change its mind
    expect => [@$stopped, [200, 'TypeError']]);

# ---------------------------------------------------------------------------
# 7. Last resort by the hang timeout: the JSON.parse guard measures only
# string arguments; JSON.parse(ToString(x)) of an object whose toString
# returns a 112 MB text parses it whole in C++.
hostile_case($t, 'JSON.parse of an object with a huge toString is stopped by a limit',
    js => q{
        export default { fetch() {
          const s = '[' + '{"a":1},'.repeat(1.4e7) + '1]';
          try { return new Response(String(JSON.parse({ toString() { return s; } }).length)); }
          catch (e) { return new Response(e.name); }
        } };
    },
    expect => $stopped);

# ---------------------------------------------------------------------------
# 8. Last resort by the hang timeout, in one line: string builtins with one
# result per character loop in C++ without a termination check. On a
# 1e8-character string (100 MB, inside the 128m limit; building it is
# cheap, flattening it takes 30 ms): split(''), replace(/a/g, 'b'),
# replaceAll('a', 'b') and match(/a/g) each keep running past
# dispatch_hang_timeout; the worker exits (1). Not the documented
# lastIndexOf or "+"-flattening cases. split stands for them here.
hostile_case($t, 'splitting a 100 MB string into characters is stopped by a limit',
    js => q{
        export default { fetch() {
          const s = 'a'.repeat(1e8);
          try { return new Response(String(s.split('').length)); } catch (e) { return new Response(e.name); }
        } };
    },
    expect => $stopped);

# ---------------------------------------------------------------------------
# 9. Unbounded worker memory: Intl.v8BreakIterator is not among the charged
# Intl constructors (nor is the Segments object of Intl.Segmenter's
# segment()), and adoptText()/segment() copy the text into ICU as UTF-16,
# outside V8's heap. Keeping 10 per request over a 600 KB string grows the
# worker's RSS by 11 MB a request with no limit hit: 715 MB after 60
# requests under a 128m dispatch_memory_limit (Segments: 482 MB after 40).
subtest 'ICU text copies of v8BreakIterator are charged to the isolate' => sub {
    my ($worker) = my @before = $t->worker_pids;
    my $logpos = length $t->error_log;
    $t->put_script('tenants', 'breakiterators', q{
        const keep = globalThis.keep || (globalThis.keep = []);
        export default { fetch() {
          const s = 'hello world '.repeat(50000);
          try {
            for (let i = 0; i < 10; i++) { const b = new Intl.v8BreakIterator('en'); b.adoptText(s); keep.push(b); }
          } catch (e) { return new Response(e.name); }
          return new Response('held ' + keep.length);
        } };
    });
    my $refused = 0;
    for (1 .. 40) {
        my $r = raw_request($t, '/t/breakiterators', timeout => 10);
        if ($r->{status} != 200 || $r->{content} !~ /^held/) { $refused = 1; last }
    }
    my $rss = $t->proc_status($worker)->{VmRSS} // 0;
    ok($refused, 'a limit refuses the script before 40 requests hold 440 MB of ICU copies')
        or diag("VmRSS now ${rss} kB");
    cmp_ok($rss, '<', 300 * 1024, 'the worker RSS stays near the 128m limit plus overhead');
    survived($t, \@before, $logpos, 'v8BreakIterator');
};

# ---------------------------------------------------------------------------
# 10. A client gets a good tenant throttled: 60 connections that ask for a
# tenant's 16 MB download and never read hold over 128 MB of its responses;
# what nginx holds is charged to the script's budget, so the tenant's own
# requests are stopped "exceeded_memory", each counted as its offence, and
# it is throttled: every later request answers 503 `quarantined`. The
# tenant did nothing wrong; no client may put a script in the penalty box
# or the throttle (the responses waiting should answer 503 `overloaded`
# for that client instead, or be charged to no offence).
subtest 'clients that do not read cannot get a tenant throttled' => sub {
    $t->put_script('tenants', 'downloads', q{
        export default { fetch() { return new Response(new Uint8Array(16 << 20)); } };
    });
    my @before = $t->worker_pids;
    my $logpos = length $t->error_log;
    my @slow;
    for (1 .. 60) {
        my $s = IO::Socket::INET->new(Proto => 'tcp') or last;
        setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096);
        connect($s, pack_sockaddr_in($t->port, inet_aton('127.0.0.1'))) or last;
        syswrite($s, "GET /t/downloads HTTP/1.1\r\nHost: localhost\r\n\r\n");
        push @slow, $s;
        sleep 0.05;
    }
    sleep 1;
    my @got;
    for (1 .. 6) {
        my $r = raw_request($t, '/t/downloads', timeout => 10);
        push @got, $r->{status} == 200 ? 200 : "$r->{status} $r->{content}";
    }
    close $_ for @slow;
    my $punished = grep { /quarantined/ } @got;
    is($punished, 0, 'the tenant is not throttled for what slow clients hold')
        or diag(join ', ', map { s/\n//r } @got);
    my @lines = grep { /tenants\/downloads/ && /throttl|penalty|quarantin/i } split /\n/, substr($t->error_log, $logpos);
    is(scalar(@lines), 0, 'no throttle or penalty box line names the tenant')
        or diag($lines[0]);
    survived($t, \@before, $logpos, 'slow clients');
};

# ---------------------------------------------------------------------------
# 11. Legitimate code refused: short-lived Intl objects are refunded only
# when a GC collects them, so a plain loop that formats 2500 values with a
# fresh Intl.NumberFormat each time (one live at a time) throws "RangeError:
# at most 2000 Intl objects may be kept at once" at the 2000th; with
# Intl.DateTimeFormat (64 KiB each) the 128m budget is "spent" at the 1995th
# ("Cannot allocate 65536 bytes: they do not fit what is left"). With a 2 s
# CPU limit, so CPU is not what stops it.
subtest 'a loop of short-lived Intl formatters is not refused' => sub {
    my $u = Dispatch::Test->new(workers => 1, server => $Dispatch::Hostile::LOC,
                                http => 'dispatch_cpu_limit 2s;');
    for my $ctor ('NumberFormat', 'DateTimeFormat') {
        $u->put_script('tenants', lc "intl-$ctor", qq{
            export default { fetch() {
              let i = 0, n = 0;
              try {
                for (i = 0; i < 2500; i++) n += new Intl.$ctor('en-US').format(i).length;
              } catch (e) { return new Response(e.name + ' at ' + i + ': ' + e.message); }
              return new Response('formatted ' + i);
            } };
        });
        my $r = $u->get(lc "/t/intl-$ctor", timeout => 20);
        is("$r->{status} $r->{content}", '200 formatted 2500',
           "2500 short-lived Intl.$ctor objects, one at a time, are not refused");
    }
    $u->stop;
};

done_testing;
