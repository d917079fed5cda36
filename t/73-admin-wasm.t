#!/usr/bin/perl
# Issue 13, the upload's last part: imported WebAssembly modules, as on
# Workers. A curl upload with -F 'add.wasm=@add.wasm;type=application/wasm'
# is stored as bytes (wasm:add.wasm in the script's hash), compiled by the
# engine, and `import mod from "./add.wasm"` is the WebAssembly.Module the
# script instantiates; bytes V8 refuses, or a memory larger than
# dispatch_memory_limit, are a 400 that changes nothing; instances' memories
# count against the limit, and one grown from inside Wasm past it stops the
# script (503) while the worker serves on.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;

my $t = admin_server(http => "dispatch_memory_limit 16m;\n    dispatch_cpu_limit 2s;");

# (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
my $add = pack 'C*', 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f,
    0x03, 0x02, 0x01, 0x00,
    0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00,
    0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b;

# (module (memory (export "mem") PAGES) (func (export "grow") (param i32) (result i32)
#   local.get 0 memory.grow))
sub memory_module {
    my ($pages) = @_;
    my @leb;
    do { my $b = $pages & 0x7f; $pages >>= 7; push @leb, $b | ($pages ? 0x80 : 0) } while $pages;
    my @memory = (0x01, 0x00, @leb);
    return pack 'C*', 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
        0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
        0x03, 0x02, 0x01, 0x00,
        0x05, scalar(@memory), @memory,
        0x07, 0x0e, 0x02, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x04, 0x67, 0x72, 0x6f, 0x77, 0x00, 0x00,
        0x0a, 0x08, 0x01, 0x06, 0x00, 0x20, 0x00, 0x40, 0x00, 0x0b;
}

sub wasm_upload {
    my ($name, $code, $wasm_name, $bytes) = @_;
    return curl_upload($t, 'shop', $name,
        metadata => { main_module => 'worker.js' },
        files    => [[ 'worker.js', 'worker.js', 'application/javascript+module', $code ],
                     [ $wasm_name, $wasm_name, 'application/wasm', $bytes ]]);
}

envelope_ok(api($t, POST => '', json => { name => 'shop' }), 'POST .../namespaces {"name":"shop"}');

# --- upload, import, instantiate, call
{
    my $code = <<'JS';
import mod from './add.wasm';
const { exports } = new WebAssembly.Instance(mod);
export default {
  async fetch(request) {
    const n = new URL(request.url).searchParams;
    const again = await WebAssembly.instantiate(mod, {});
    return new Response(`${exports.add(+n.get('a'), +n.get('b'))} ${again.exports.add(1, 1)}`);
  },
};
JS
    my $s = envelope_ok(wasm_upload('calc', $code, 'add.wasm', $add),
                        "curl -F worker.js=@... -F 'add.wasm=\@add.wasm;type=application/wasm'");
    is $s && $s->{id}, 'calc', 'the upload answers the script';
    ok $t->every_worker_says('/t/shop/calc?a=2&b=40', 200, '42 2'),
        'every worker imports the module and calls its add()'
        or diag $t->worker_answers('/t/shop/calc?a=2&b=40');
    is $t->redis('HGET', 'dispatch:{shop}:script:calc', 'wasm:add.wasm'), $add,
        'Redis holds the bytes as uploaded under wasm:add.wasm';
    ok !$t->redis('HEXISTS', 'dispatch:{shop}:script:calc', 'module:add.wasm'), 'and no module:add.wasm';
    envelope_ok(api($t, GET => '/shop/scripts/calc'), 'GET .../scripts/calc answers as for any script');
    envelope_ok(api($t, GET => '/shop/scripts/calc/settings'), 'GET .../scripts/calc/settings too');
}

# --- refused: bytes V8 will not compile, a memory larger than the limit, a
# script that compiles Wasm itself; none of them changes Redis
{
    my $before = redis_state($t);
    envelope_error(wasm_upload('broken', "import m from './bad.wasm'; export default {};",
                               'bad.wasm', "\0asm\x01\0\0\0\x01\xff"),
                   400, 'invalid Wasm bytes', qr/bad\.wasm/);
    envelope_error(wasm_upload('huge', "export default { fetch() { return new Response('x'); } };",
                               'huge.wasm', memory_module(32768)),
                   400, 'a module declaring 2 GiB of initial memory under a 16m limit', qr/huge\.wasm/);
    envelope_error(wasm_upload('jit', "new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));\n"
                               . "export default {};", 'add.wasm', $add),
                   400, 'a script that compiles Wasm from bytes at its top level', qr/CompileError/);
    is_deeply redis_state($t), $before, 'Redis is byte-for-byte as it was';
    ok $t->every_worker_says('/t/shop/calc?a=1&b=2', 200, '3 2'), 'the stored script still serves';
}

# --- memories count against dispatch_memory_limit; the worker survives
{
    my $code = <<'JS';
import mod from './mem.wasm';
let first;
export default {
  fetch(request) {
    // Either worker may get /grow: one that did not serve /make makes its own.
    if (request.url.endsWith('/grow')) return new Response(`${(first ??= new WebAssembly.Instance(mod)).exports.grow(100)}`);
    first = new WebAssembly.Instance(mod);
    try { new WebAssembly.Instance(mod); return new Response('two'); }
    catch (e) { return new Response(`${first.exports.mem.buffer.byteLength} then ${e.name}`); }
  },
};
JS
    # 150 pages (9.4 MiB) fit once under 16m, not twice; 250 (the flag
    # --wasm-max-mem-pages lets one memory grow to 256) do not fit with the heap
    envelope_ok(wasm_upload('mem', $code, 'mem.wasm', memory_module(150)), 'upload of a module with 150 pages of memory');
    my @pids = sort $t->worker_pids;
    my $r = $t->get('/t/shop/mem/make');
    is "$r->{status} $r->{content}", '200 9830400 then RangeError',
        'one instance is made, the second does not fit: a RangeError the script catches';
    $r = $t->get('/t/shop/mem/grow');
    is $r->{status}, 503, 'memory.grow inside Wasm past the limit stops the script (503)';
    like $t->error_log, qr/exceeded_memory/, 'the error log says why';
    is_deeply [ sort $t->worker_pids ], \@pids, 'no worker exited';
    ok $t->every_worker_says('/t/shop/calc?a=5&b=5', 200, '10 2'), 'and every worker serves the other tenant';
}

is_deeply [ $t->error_log_alerts ], [], 'no alert, crit or emerg in the error log';
done_testing;
