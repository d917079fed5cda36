#!/usr/bin/perl
# Issue 15, Node.js compatibility: behind the nodejs_compat flag (or
# nodejs_compat_v2) in the upload metadata, node:buffer, events, util,
# async_hooks, assert, path, url, string_decoder, process, timers, crypto
# and stream import (and their bare names); without it, the import fails at
# start-up as on Cloudflare. Each module's core behaviour is checked by
# JavaScript next to it.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);
my ($T, $F) = (JSON::PP::true, JSON::PP::false);
my $COMPAT = '{"compatibility_date":"2025-09-01","compatibility_flags":["nodejs_compat"]}';

# run_checks with upload metadata: the script's results() checks, as JSON.
sub node_checks {
    my ($name, $code, %o) = @_;
    $t->put_script('api', $name, $Dispatch::Test::RESULTS_JS . $code, metadata => $o{metadata} // $COMPAT);
    my $r = $t->get("/t/$name");
    is $r->{status}, 200, "the $name checks ran" or diag $r->{content};
    return eval { decode_json($r->{content}) } || {};
}

my $got = node_checks('buffer', q{
    import { Buffer } from 'node:buffer';
    import * as bufferModule from 'buffer';
    export default { fetch: () => results({
      utf8hex: () => Buffer.from('héllo').toString('hex'),
      base64: () => Buffer.from('aGk=', 'base64').toString(),
      base64url: () => [Buffer.from([0xfb, 0xff]).toString('base64url'), Buffer.from('-_8', 'base64url').toString('hex')],
      concat: () => { const b = Buffer.concat([Buffer.from('ab'), new Uint8Array([99])]); return [b.toString(), b.length, Buffer.isBuffer(b), b instanceof Uint8Array]; },
      ints: () => { const b = Buffer.alloc(8); b.writeUInt32BE(0xdeadbeef, 0); b.writeInt16LE(-2, 4); return [b.readUInt32BE(0), b.readInt16LE(4), b.toString('hex')]; },
      sliceShares: () => { const b = Buffer.from('abc'); const s = b.subarray(1); s[0] = 0x42; return b.toString(); },
      compare: () => [Buffer.compare(Buffer.from('a'), Buffer.from('b')), Buffer.from('a').equals(Buffer.from('a'))],
      json: () => JSON.stringify(Buffer.from('A')),
      sameModule: () => bufferModule.Buffer === Buffer && bufferModule.default.Buffer === Buffer,
      kMaxLength: () => typeof bufferModule.kMaxLength,
      isUtf8: () => [bufferModule.isUtf8(Buffer.from('é')), bufferModule.isUtf8(new Uint8Array([0xff]))],
    }) };
});
is $got->{utf8hex}, '68c3a96c6c6f', 'Buffer.from(string) is UTF-8, toString("hex")';
is $got->{base64}, 'hi', 'base64 decodes';
is_deeply $got->{base64url}, ['-_8', 'fbff'], 'base64url both ways';
is_deeply $got->{concat}, ['abc', 3, $T, $T], 'Buffer.concat, isBuffer, a Uint8Array';
is_deeply $got->{ints}, [0xdeadbeef, -2, 'deadbeeffeff0000'], 'integer reads and writes, both byte orders';
is $got->{sliceShares}, 'aBc', 'subarray shares the bytes';
is_deeply $got->{compare}, [-1, $T], 'compare and equals';
is $got->{json}, '{"type":"Buffer","data":[65]}', 'toJSON as Node';
is $got->{sameModule}, $T, 'bare "buffer" is node:buffer, named and default exports';
is $got->{kMaxLength}, 'number', 'kMaxLength exported';
is_deeply $got->{isUtf8}, [$T, $F], 'isUtf8';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
