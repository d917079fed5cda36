#!/usr/bin/perl
# Attack round 16: a battery written from README.md alone, by a hostile
# tenant and a hostile HTTP client. Each case asserts what the README
# promises and failed on the commit it was found on (fa36aa8).
#
# Found and fixed:
# - WebAssembly.Table.prototype.grow (and Wasm's table.grow) ended the
#   worker. V8 10.2 keeps, in every instance that imports a funcref table,
#   an indirect-call array as long as the table (~20 bytes an entry,
#   outside the heap), and grows each one with the table, in the one call
#   that grows it: 100 instances of a 25-byte module importing one table,
#   then table.grow(1e6), ran past dispatch_hang_timeout (100M entries,
#   ~2 GB). Now an instance is charged for each funcref table it imports at
#   the most that table can reach (its declared maximum, else the largest
#   table), 24 bytes an entry, for as long as it lives, and the live
#   instances of an isolate import at most 2M such entries together (under
#   a 1g limit, 44 instances of a table grown by 1M took 3.7 s): past
#   either, new WebAssembly.Instance throws a RangeError.
#   And one table alone: grown by 10M entries (V8's largest) with a function
#   as the value, each entry also set in its owner's indirect-call array,
#   one call took 0.8 to 1 s past the stop (the worker exits under a
#   dispatch_hang_timeout of 300ms, near the default 1s). V8's
#   --wasm-max-table-size is 1M now: a larger grow or table is a
#   RangeError (Wasm's table.grow answers -1), ~0.1 s at most.
# - WebAssembly memories grown inside Wasm were judged only after the run:
#   the check every 10 ms of CPU measured the heap alone. A 16m script
#   under a 2 s CPU limit made 60 instances of a module exporting its
#   memory (charged 0 pages) and had each grow and write 16 MB in the same
#   run: the worker's peak RSS went from 28 MB to 990 MB before the run
#   ended. Now that check brings the memories up to date first, and one
#   that grew past the limit condemns the isolate there (~60 MB).
# - A 90 KB Wasm module stopped every tenant of a worker for 12 s, no limit
#   hit. Liftoff goes over every local (and operand stack slot) of a
#   function at each loop or branch: one function of 50,000 locals and
#   30,000 empty loops compiled for ~12 s in the one call that compiles the
#   module as its script starts. V8 ran that compile on its background
#   thread as often as not, the isolate's thread waiting: its CPU clock
#   stood still, so neither dispatch_startup_cpu_limit nor the last resort
#   saw it (a 300 KB module, 43 s). Modules are compiled on the isolate's
#   thread only now (--wasm-num-compilation-tasks=0): past the startup
#   limit and dispatch_hang_timeout the last resort ends the worker and
#   quarantines the script, as for a regular expression that compiles for
#   seconds. Not fixed: refusing such functions up front (it needs each
#   instruction's stack effect; see the README's last resorts).
# - A Wasm module's machine code was charged five times its wire size, but
#   `i32.const 0; call_indirect` (5 bytes) compiles to ~100: a 9.5 MB
#   module took 186 MB of the worker and was charged 48 MB, and a 2 MB one
#   started under a 32m limit holding ~40 MB. What the worker's resident
#   memory grew by as the module compiled (on the isolate's thread) is
#   charged now when it is more.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;
use POSIX ();

# A CPU limit that lets a table grow by a million entries in one request,
# and as short a dispatch_hang_timeout
my $t = hostile_server(budget => 60, http => 'dispatch_cpu_limit 300ms; dispatch_hang_timeout 300ms;');

# WebAssembly's binary format: an unsigned LEB128 integer, a section
my $leb = sub { my ($n) = @_; my $o = ''; do { my $b = $n & 0x7f; $n >>= 7; $o .= chr($n ? $b | 0x80 : $b) } while $n; $o };
my $section = sub { my ($id, $payload) = @_; chr($id) . $leb->(length $payload) . $payload };

# ---- funcref tables imported by many instances, then grown ---------------------
{
    # a module of one import: m.t, a funcref table of 0 entries (at most $max)
    my $importer = sub {
        my ($max) = @_;
        my $limits = defined $max ? "\x01\x00" . $leb->($max) : "\x00\x00";
        "\0asm\x01\0\0\0" . $section->(2, "\x01\x01m\x01t\x01\x70" . $limits);
    };
    my $grow_js = q{import mod from './m.wasm';
export default { fetch() {
  const table = new WebAssembly.Table({ element: 'anyfunc', initial: 0, MAXIMUM });
  const kept = [];
  let out = '';
  try { for (let i = 0; i < 100; i++) kept.push(new WebAssembly.Instance(mod, { m: { t: table } })); }
  catch (e) { out = ` ${e.name}: ${e.message}`; }
  table.grow(GROW);
  return new Response(`${kept.length} made${out}; grown to ${table.length}`);
} };};
    (my $no_max = $grow_js) =~ s/GROW/1e6/;
    $no_max =~ s/, MAXIMUM//;
    hostile_case($t, 'Table.grow of a table 100 instances import (no maximum) cannot end the worker',
        fields => { 'wasm:m.wasm' => $importer->(undef) },
        js => $no_max,
        expect => [[200, '2 made RangeError: WebAssembly.Instance: the funcref tables it imports may grow to '
                       . '1000000 entries (their declared maximum, or 1000000 without one); with the 2000000 of the '
                       . 'live instances\' that is more than 2000000; grown to 1000000']],
        within => 5);
    (my $max = $grow_js) =~ s/GROW/1e5/;
    $max =~ s/MAXIMUM/maximum: 1e5/;
    hostile_case($t, 'instances importing a table of at most 100,000 entries are made while 2M entries fit, and it grows',
        fields => { 'wasm:m.wasm' => $importer->(100_000) },
        js => $max,
        expect => [[200, '20 made RangeError: WebAssembly.Instance: the funcref tables it imports may grow to '
                       . '100000 entries (their declared maximum, or 1000000 without one); with the 2000000 of '
                       . 'the live instances\' that is more than 2000000; grown to 100000']],
        within => 5);

    # Wasm's own table.grow: module a defines a funcref table (no maximum)
    # and exports it and grow(n) (ref.null func, n, table.grow 0); the
    # importers take a's table
    my $owner = "\0asm\x01\0\0\0" . $section->(1, "\x01\x60\x01\x7f\x01\x7f")
        . $section->(3, "\x01\x00") . $section->(4, "\x01\x70\x00\x00")
        . $section->(7, "\x02\x01t\x01\x00\x04grow\x00\x00")
        . $section->(10, "\x01\x09\x00\xd0\x70\x20\x00\xfc\x0f\x00\x0b");
    hostile_case($t, 'Wasm\'s table.grow of a table 100 instances import cannot end the worker',
        fields => { 'wasm:m.wasm' => $importer->(undef), 'wasm:owner.wasm' => $owner },
        js => q{import mod from './m.wasm';
import owner from './owner.wasm';
export default { fetch() {
  const a = new WebAssembly.Instance(owner, {});
  const kept = [];
  let out = '';
  try { for (let i = 0; i < 100; i++) kept.push(new WebAssembly.Instance(mod, { m: { t: a.exports.t } })); }
  catch (e) { out = ` ${e.name}`; }
  const before = a.exports.grow(1e6);
  return new Response(`${kept.length} made${out}; grown from ${before} to ${a.exports.t.length}`);
} };},
        # (growing a million entries passed the 300 ms limit once with the
        # machine loaded by four builds: the contract allows that answer too)
        expect => [[200, '2 made RangeError; grown from 0 to 1000000'], [503, "exceeded_cpu\n"]],
        within => 5);

    # one table grown by 10M entries with a function as the value: each
    # entry also goes into the owner's indirect-call array, 0.8 to 1 s in
    # one call
    hostile_case($t, 'no funcref table grows past 1M entries, in one call no stop request reaches',
        fields => { 'wasm:owner.wasm' => $owner },
        js => q{import owner from './owner.wasm';
export default { fetch() {
  const a = new WebAssembly.Instance(owner, {});
  const out = [];
  try { a.exports.t.grow(1e7, a.exports.grow); out.push('grown'); } catch (e) { out.push(e.name); }
  try { new WebAssembly.Table({ element: 'anyfunc', initial: 2e6 }); out.push('made'); } catch (e) { out.push(e.name); }
  out.push(a.exports.grow(2e6), a.exports.grow(1e6), a.exports.t.length);
  return new Response(out.join(' '));
} };},
        expect => [[200, 'RangeError RangeError -1 0 1000000']],
        within => 5);
}

# ---- WebAssembly memories grown inside Wasm, within one run ---------------------
subtest 'memories grown inside Wasm are judged every 10 ms of CPU, not only after the run' => sub {
    # a module exporting its memory (0 pages, no maximum) and f(pages):
    # memory.grow(pages), then memory.fill(0, 1, pages * 64 KiB)
    my $body = "\x00\x20\x00\x40\x00\x1a\x41\x00\x41\x01\x20\x00\x41\x10\x74\xfc\x0b\x00\x0b";
    my $mod = "\0asm\x01\0\0\0" . $section->(1, "\x01\x60\x01\x7f\x00") . $section->(3, "\x01\x00")
        . $section->(5, "\x01\x00\x00") . $section->(7, "\x02\x01m\x02\x00\x01f\x00\x00")
        . $section->(10, "\x01" . $leb->(length $body) . $body);
    # a worker of its own, whose peak RSS is this case's
    my $w = Dispatch::Test->new(workers => 1, server => $Dispatch::Hostile::LOC,
                                http => 'dispatch_memory_limit 16m; dispatch_cpu_limit 2s;');
    $w->put_script('tenants', 'good', $Dispatch::Hostile::GOOD_JS);
    $w->put_script('tenants', 'grow', q{import mod from './m.wasm';
export default { fetch() {
  const kept = [];
  // 60 memories of 16 MB each, written: 60 times the limit
  for (let i = 0; i < 60; i++) { const x = new WebAssembly.Instance(mod, {}); x.exports.f(256); kept.push(x); }
  return new Response(`${kept.length} grown`);
} };}, 'wasm:m.wasm' => $mod);
    my $peak = sub {
        my ($pid) = $w->worker_pids;
        open my $f, '<', "/proc/$pid/status" or return 0;
        local $/;
        return (<$f> =~ /VmHWM:\s+(\d+)/)[0] / 1024;
    };
    my @before = $w->worker_pids;
    my $logpos = length $w->error_log;
    is raw_request($w, '/t/good')->{status}, 200, 'a good tenant answers first';
    my $start = $peak->();
    my $r = raw_request($w, '/t/grow');
    answer_in($r, [[503, qr/^exceeded_memory\b/]], 'the script growing 60 memories');
    my $grew = $peak->() - $start;
    cmp_ok $grew, '<', 300, 'the worker\'s peak RSS grew by less than 300 MB (the run was stopped within it)'
        or diag(sprintf 'peak RSS grew by %.0f MB', $grew);
    survived($w, \@before, $logpos, 'memories grown inside Wasm');
    $w->stop;
};

# ---- a WebAssembly function Liftoff takes seconds to compile --------------------
subtest 'a Wasm module that takes seconds to compile is stopped by the last resort, not waited for' => sub {
    # one function of 50,000 locals and 30,000 empty loops (90 KB): Liftoff
    # merges every local at each loop, ~12 s in one call
    my $body = "\x01" . $leb->(50_000) . "\x7f" . ("\x03\x40\x0b" x 30_000) . "\x0b";
    my $mod = "\0asm\x01\0\0\0" . $section->(1, "\x01\x60\x00\x00") . $section->(3, "\x01\x00")
        . $section->(10, "\x01" . $leb->(length $body) . $body);
    # a fresh worker, as the first compile in one is what V8 handed to its
    # background thread, where no limit saw it
    my $w = Dispatch::Test->new(workers => 1, server => $Dispatch::Hostile::LOC);
    $w->put_script('tenants', 'good', $Dispatch::Hostile::GOOD_JS);
    $w->put_script('tenants', 'slow-compile',
        q{import mod from './m.wasm'; export default { fetch() { return new Response('compiled'); } };},
        'wasm:m.wasm' => $mod);
    my $pid = fork // die "fork: $!";
    if (!$pid) { raw_request($w, '/t/slow-compile', timeout => 60); POSIX::_exit(0) }
    select undef, undef, undef, 0.3;
    my $g = raw_request($w, '/t/good', timeout => 30);
    waitpid $pid, 0;
    is $g->{status}, 200, 'a good tenant asked meanwhile answers';
    cmp_ok $g->{elapsed}, '<', 4, 'within 4 s (dispatch_startup_cpu_limit and dispatch_hang_timeout, 1 s each)'
        or diag(sprintf 'it waited %.1f s', $g->{elapsed});
    like $w->error_log, qr/slow-compile": JavaScript kept running \d+ms after a limit stopped it/,
        'the last resort ended the worker, its script quarantined';
    $w->stop;
};

# ---- Wasm code far larger than its wire size -------------------------------------
subtest 'a Wasm module is charged the machine code it compiled to, when more than five times its size' => sub {
    # 100 functions of 4,000 `i32.const 0; call_indirect` (2 MB): Liftoff
    # makes ~100 bytes of each 5, ~40 MB; charged 10 MB
    my $module = sub {
        my ($ins) = @_;
        my $body = "\x00" . ($ins x 4000) . "\x0b";
        "\0asm\x01\0\0\0" . $section->(1, "\x01\x60\x00\x00") . $section->(3, "\x64" . ("\x00" x 100))
            . $section->(4, "\x01\x70\x00\x01") . $section->(10, "\x64" . join('', map { $leb->(length $body) . $body } 1 .. 100));
    };
    my $w = Dispatch::Test->new(workers => 1, server => $Dispatch::Hostile::LOC,
                                http => 'dispatch_memory_limit 32m;');
    $w->put_script('tenants', 'good', $Dispatch::Hostile::GOOD_JS);
    my $js = q{import mod from './m.wasm'; export default { fetch() { return new Response('compiled'); } };};
    $w->put_script('tenants', 'calls', $js, 'wasm:m.wasm' => $module->("\x41\x00\x11\x00\x00"));
    $w->put_script('tenants', 'drops', $js, 'wasm:m.wasm' => $module->("\x41\x00\x1a" x 2));
    my @before = $w->worker_pids;
    my $logpos = length $w->error_log;
    my $r = raw_request($w, '/t/calls');
    is $r->{status}, 500, 'the module of call_indirect (40 MB of code under a 32m limit) does not start';
    like substr($w->error_log, $logpos), qr/"tenants\/calls".*its compiled code \(\d+ bytes, as compiled\) does not fit dispatch_memory_limit/,
        'and the error log says why';
    is raw_request($w, '/t/drops')->{content}, 'compiled', 'a module of as many bytes of constants compiles';
    survived($w, \@before, $logpos, 'code larger than charged');
    $w->stop;
};

done_testing;
