#!/usr/bin/perl
# SPEC 5 (issue 4): TextEncoder, TextDecoder (utf-8, utf-16le/be, windows-1252
# and the other single-byte encodings, the CJK ones in t/21-encoding-cjk; fatal, ignoreBOM, streaming), atob/btoa and DOMException behave as the
# WHATWG Encoding, HTML and WebIDL standards say, as on Cloudflare Workers.
# Each tenant runs a list of checks and answers {check: result}; a check
# that throws answers "threw <name>: <message>".
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json);
use MIME::Base64 qw(encode_base64);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);

my $CHECKS = q{
    const bytes = (view) => Array.from(view instanceof ArrayBuffer ? new Uint8Array(view) : view);
    const codes = (text) => Array.from(text, (c) => c.codePointAt(0).toString(16));
};

sub run_checks {
    my ($name, $code, %req) = @_;
    return $t->run_checks('api', $name, $CHECKS . $code, %req);
}

# ---- TextEncoder ----

my $got = run_checks('encoder', q{
    export default { fetch: () => results({
      encoding: () => new TextEncoder().encoding,
      encode: () => bytes(new TextEncoder().encode('h\u00e9\u20ac\u{1F600}')),
      encodeEmpty: () => bytes(new TextEncoder().encode()),
      loneSurrogate: () => bytes(new TextEncoder().encode('a\uD800b')),
      isUint8Array: () => new TextEncoder().encode('x') instanceof Uint8Array,
      intoFits: () => {
        const dest = new Uint8Array(8);
        const result = new TextEncoder().encodeInto('a\u20ac', dest);
        return [result.read, result.written, bytes(dest.subarray(0, 4))];
      },
      intoPartial: () => {
        const result = new TextEncoder().encodeInto('a\u20acb', new Uint8Array(3));
        return [result.read, result.written];
      },
      intoNoSplitPair: () => {
        const result = new TextEncoder().encodeInto('\u{1F600}x', new Uint8Array(3));
        return [result.read, result.written];
      },
      intoNotUint8: () => new TextEncoder().encodeInto('a', new Uint16Array(2)),
    }) };
});
is $got->{encoding}, 'utf-8', 'TextEncoder.encoding is utf-8';
is_deeply $got->{encode}, [0x68, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80],
    'encode() gives the UTF-8 bytes, astral characters included';
is_deeply $got->{encodeEmpty}, [], 'encode() with no argument is empty';
is_deeply $got->{loneSurrogate}, [0x61, 0xef, 0xbf, 0xbd, 0x62], 'a lone surrogate encodes as U+FFFD';
is $got->{isUint8Array}, JSON::PP::true, 'encode() returns a Uint8Array';
is_deeply $got->{intoFits}, [2, 4, [0x61, 0xe2, 0x82, 0xac]], 'encodeInto() reports code units read and bytes written';
is_deeply $got->{intoPartial}, [1, 1], 'encodeInto() writes only whole characters that fit';
is_deeply $got->{intoNoSplitPair}, [0, 0], 'encodeInto() never splits a surrogate pair';
like $got->{intoNotUint8}, qr/^threw TypeError/, 'encodeInto() needs a Uint8Array';

# ---- TextDecoder ----

$got = run_checks('decoder', q{
    const u8 = (...b) => new Uint8Array(b);
    export default { fetch: () => results({
      defaults: () => { const d = new TextDecoder(); return [d.encoding, d.fatal, d.ignoreBOM]; },
      utf8: () => new TextDecoder().decode(u8(0x68, 0xc3, 0xa9, 0xe2, 0x82, 0xac)),
      noInput: () => new TextDecoder().decode(),
      arrayBuffer: () => new TextDecoder().decode(u8(0x6f, 0x6b).buffer),
      dataView: () => new TextDecoder().decode(new DataView(u8(0x78, 0x6f, 0x6b, 0x78).buffer, 1, 2)),
      notBytes: () => new TextDecoder().decode('text'),
      bomStripped: () => new TextDecoder().decode(u8(0xef, 0xbb, 0xbf, 0x61)),
      bomKept: () => codes(new TextDecoder('utf-8', { ignoreBOM: true }).decode(u8(0xef, 0xbb, 0xbf, 0x61))),
      onlyFirstBom: () => codes(new TextDecoder().decode(u8(0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf))),
      replacement: () => codes(new TextDecoder().decode(u8(0xf0, 0x90, 0x80, 0x41, 0xc0, 0x80, 0xed, 0xa0, 0x80))),
      fatal: () => new TextDecoder('utf-8', { fatal: true }).decode(u8(0x61, 0xff)),
      fatalValidFFFD: () => codes(new TextDecoder('utf-8', { fatal: true }).decode(u8(0xef, 0xbf, 0xbd))),
      streaming: () => {
        const d = new TextDecoder();
        return [d.decode(u8(0xe2), { stream: true }), d.decode(u8(0x82), { stream: true }),
          d.decode(u8(0xac, 0x21), { stream: true }), d.decode()];
      },
      streamBom: () => {
        const d = new TextDecoder();
        return [d.decode(u8(0xef, 0xbb), { stream: true }), d.decode(u8(0xbf, 0x41), { stream: true }),
          d.decode(u8(0xef, 0xbb, 0xbf))];
      },
      streamTruncated: () => {
        const d = new TextDecoder();
        return codes(d.decode(u8(0x61, 0xf0, 0x9f), { stream: true }) + d.decode());
      },
      streamFatal: () => {
        const d = new TextDecoder('utf-8', { fatal: true });
        d.decode(u8(0xe2, 0x82), { stream: true });
        return d.decode();
      },
      labels: () => ['UTF8', ' unicode-1-1-utf-8\n', 'utf-16', 'UTF-16LE', 'latin1', 'ascii', 'iso-8859-1',
        'us-ascii', 'cp1252'].map((l) => new TextDecoder(l).encoding),
      unknownLabel: () => new TextDecoder('no-such-encoding'),
      utf16: () => new TextDecoder('utf-16le').decode(u8(0xff, 0xfe, 0x68, 0x00, 0x3d, 0xd8, 0x00, 0xde)),
      utf16Bad: () => codes(new TextDecoder('utf-16le').decode(u8(0x00, 0xd8, 0x61, 0x00, 0x62))),
      utf16Fatal: () => new TextDecoder('utf-16le', { fatal: true }).decode(u8(0x00, 0xdc)),
      utf16Stream: () => {
        const d = new TextDecoder('utf-16le');
        return [d.decode(u8(0x3d), { stream: true }), d.decode(u8(0xd8, 0x00), { stream: true }),
          d.decode(u8(0xde))];
      },
      windows1252: () => codes(new TextDecoder('latin1').decode(u8(0x41, 0x80, 0x9f, 0xe9, 0xff))),
    }) };
});
is_deeply $got->{defaults}, ['utf-8', JSON::PP::false, JSON::PP::false], 'a TextDecoder is utf-8, not fatal, BOM stripped';
is $got->{utf8}, "h\x{e9}\x{20ac}", 'decode() reads UTF-8';
is $got->{noInput}, '', 'decode() with nothing is empty';
is $got->{arrayBuffer}, 'ok', 'decode() takes an ArrayBuffer';
is $got->{dataView}, 'ok', 'decode() takes a DataView window';
like $got->{notBytes}, qr/^threw TypeError/, 'decode() refuses a string';
is $got->{bomStripped}, 'a', 'a leading BOM is dropped';
is_deeply $got->{bomKept}, ['feff', '61'], 'ignoreBOM keeps it';
is_deeply $got->{onlyFirstBom}, ['feff'], 'only the first BOM is dropped';
is_deeply $got->{replacement}, ['fffd', '41', 'fffd', 'fffd', 'fffd', 'fffd', 'fffd'],
    'bad sequences become U+FFFD, one per maximal subpart';
like $got->{fatal}, qr/^threw TypeError/, 'fatal: invalid input throws a TypeError';
is_deeply $got->{fatalValidFFFD}, ['fffd'], 'fatal: an encoded U+FFFD is valid input';
is_deeply $got->{streaming}, ['', '', "\x{20ac}!", ''], 'stream: a character split across chunks comes out whole';
is_deeply $got->{streamBom}, ['', 'A', "\x{feff}"], 'stream: a BOM split across chunks is dropped, later ones kept';
is_deeply $got->{streamTruncated}, ['61', 'fffd'], 'stream: an unfinished character at the end is U+FFFD';
like $got->{streamFatal}, qr/^threw TypeError/, 'stream: fatal throws for an unfinished character at the end';
is_deeply $got->{labels}, ['utf-8', 'utf-8', 'utf-16le', 'utf-16le', ('windows-1252') x 5],
    'labels are matched case-insensitively, trimmed, and map to their encoding';
like $got->{unknownLabel}, qr/^threw RangeError/, 'an unsupported label is a RangeError';
is $got->{utf16}, "h\x{1f600}", 'utf-16le: BOM dropped, surrogate pairs joined';
is_deeply $got->{utf16Bad}, ['fffd', '61', 'fffd'], 'utf-16le: lone surrogates and an odd byte become U+FFFD';
like $got->{utf16Fatal}, qr/^threw TypeError/, 'utf-16le: fatal throws for a lone surrogate';
is_deeply $got->{utf16Stream}, ['', '', "\x{1f600}"], 'utf-16le: stream holds split code units and pairs';
is_deeply $got->{windows1252}, ['41', '20ac', '178', 'e9', 'ff'], 'windows-1252 (latin1): 0x80-0x9F are its own characters';

# ---- atob, btoa, DOMException ----

my $binary = join '', map { chr } 0 .. 255;
$got = run_checks('base64', q{
    const binary = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
    export default { fetch: () => results({
      btoa: () => btoa('hello'),
      btoaBinary: () => btoa(binary),
      roundTrip: () => atob(btoa(binary)) === binary,
      atobPadded: () => atob('aGk='),
      atobUnpadded: () => atob('aGk'),
      atobWhitespace: () => atob(' aG\tVs\nbG8= '),
      atobBad: () => atob('a'),
      atobBadChar: () => atob('aGk*'),
      atobBadError: () => {
        try { atob('!'); } catch (e) {
          return [e instanceof DOMException, e instanceof Error, e.name, e.code, e.code === DOMException.INVALID_CHARACTER_ERR];
        }
        return 'no error';
      },
      btoaWide: () => btoa('\u20ac'),
      utf8ViaBase64: () => {
        const text = 'na\u00efve \u2713';
        const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(text)));
        const back = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
        return [b64, back === text];
      },
      jwtPayload: () => {
        // A JWT's middle part: base64url without padding.
        const part = 'eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkrDtnJnIn0';
        const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
        const json = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
        return JSON.parse(json);
      },
      domDefaults: () => { const e = new DOMException(); return [e.name, e.message, e.code]; },
      domNamed: () => { const e = new DOMException('gone', 'NotFoundError'); return [e.name, e.message, e.code, String(e)]; },
      domOptions: () => { const e = new DOMException('m', { name: 'AbortError', cause: 'c' }); return [e.name, e.code, e.cause]; },
      domUnknownName: () => new DOMException('m', 'EncodingError').code,
      domConstants: () => [DOMException.INDEX_SIZE_ERR, DOMException.ABORT_ERR, DOMException.DATA_CLONE_ERR,
        new DOMException().TIMEOUT_ERR],
      domShape: () => {
        const e = new DOMException('m', 'DataError');
        return [Object.getPrototypeOf(DOMException.prototype) === Error.prototype, typeof e.stack,
          Object.prototype.toString.call(e), e.stack.split('\n')[0]];
      },
    }) };
});
is $got->{btoa}, 'aGVsbG8=', 'btoa() base64-encodes';
is $got->{btoaBinary}, encode_base64($binary, ''), 'btoa() encodes every byte value as Perl does';
ok $got->{roundTrip}, 'atob(btoa(s)) gives s back for all 256 byte values';
is $got->{atobPadded}, 'hi', 'atob() decodes';
is $got->{atobUnpadded}, 'hi', 'atob() accepts missing padding';
is $got->{atobWhitespace}, 'hello', 'atob() skips ASCII whitespace';
like $got->{atobBad}, qr/^threw InvalidCharacterError/, 'atob() of a bad length throws InvalidCharacterError';
like $got->{atobBadChar}, qr/^threw InvalidCharacterError/, 'atob() of a non-base64 character throws it too';
is_deeply $got->{atobBadError}, [JSON::PP::true, JSON::PP::true, 'InvalidCharacterError', 5, JSON::PP::true],
    'that error is a DOMException (and an Error) with code 5';
like $got->{btoaWide}, qr/^threw InvalidCharacterError/, 'btoa() of a character above U+00FF throws InvalidCharacterError';
is_deeply $got->{utf8ViaBase64}, ['bmHDr3ZlIOKckw==', JSON::PP::true], 'UTF-8 text goes through base64 and back';
is_deeply $got->{jwtPayload}, { sub => '1234567890', name => "J\x{f6}rg" }, 'a JWT payload decodes with atob';
is_deeply $got->{domDefaults}, ['Error', '', 0], 'new DOMException(): name Error, empty message, code 0';
is_deeply $got->{domNamed}, ['NotFoundError', 'gone', 8, 'NotFoundError: gone'], 'DOMException(message, name) and its legacy code';
is_deeply $got->{domOptions}, ['AbortError', 20, 'c'], 'DOMException(message, {name, cause})';
is $got->{domUnknownName}, 0, 'a name without a legacy code has code 0';
is_deeply $got->{domConstants}, [1, 20, 25, 23], 'the legacy constants are on the constructor and the prototype';
is_deeply $got->{domShape}, [JSON::PP::true, 'string', '[object DOMException]', 'DataError: m'],
    'a DOMException inherits from Error and carries a stack';

# ---- the other encodings of the Encoding Standard ----

# The legacy single-byte encodings decode by the standard's indexes (the
# code points below are theirs), UTF-16BE and x-user-defined too; what
# postal-mime reads mail with (t/09-workers-frameworks-3.t).
$got = run_checks('legacy', q{
    const u8 = (...b) => new Uint8Array(b);
    export default { fetch: () => results({
      labels: () => ['latin2', 'cp1251', 'koi8', 'KOI8-U', 'l9', 'mac', 'tis-620', 'logical', 'ibm866', 'iso-8859-16',
        'unicodefffe', 'x-user-defined'].map((l) => new TextDecoder(l).encoding),
      indexes: () => [['koi8-r', 0xc1, 0xe1, 0xa3], ['koi8-u', 0xae], ['iso-8859-2', 0xb3], ['windows-1251', 0xc0],
        ['iso-8859-15', 0xa4], ['ibm866', 0x80], ['windows-874', 0xa1], ['macintosh', 0x80], ['iso-8859-16', 0xa4],
        ['iso-8859-8', 0xe0]].map(([label, ...b]) => codes(new TextDecoder(label).decode(u8(0x41, ...b)))),
      unmapped: () => codes(new TextDecoder('windows-874').decode(u8(0xdb, 0x7a))),
      unmappedFatal: () => new TextDecoder('iso-8859-3', { fatal: true }).decode(u8(0x41, 0xa5)),
      noBom: () => codes(new TextDecoder('windows-1251').decode(u8(0xef, 0xbb, 0xbf))),
      utf16be: () => new TextDecoder('utf-16be').decode(u8(0xfe, 0xff, 0x00, 0x68, 0xd8, 0x3d, 0xde, 0x00)),
      utf16beStream: () => {
        const d = new TextDecoder('utf-16be');
        return [d.decode(u8(0xd8), { stream: true }), d.decode(u8(0x3d, 0xde), { stream: true }), d.decode(u8(0x00))];
      },
      utf16beFatal: () => new TextDecoder('utf-16be', { fatal: true }).decode(u8(0xdc, 0x00)),
      userDefined: () => codes(new TextDecoder('x-user-defined').decode(u8(0x41, 0x80, 0xff))),
      stream: async () => {
        const out = new Blob([u8(0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4)]).stream().pipeThrough(new TextDecoderStream('koi8-r'));
        const reader = out.getReader();
        let text = '';
        for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
        return text;
      },
      stillUnsupported: () => new TextDecoder('iso-2022-kr'),
    }) };
});
is_deeply $got->{labels}, ['iso-8859-2', 'windows-1251', 'koi8-r', 'koi8-u', 'iso-8859-15', 'macintosh', 'windows-874',
    'iso-8859-8-i', 'ibm866', 'iso-8859-16', 'utf-16be', 'x-user-defined'], 'legacy: their labels name them';
is_deeply $got->{indexes}, [['41', '430', '410', '451'], ['41', '45e'], ['41', '142'], ['41', '410'], ['41', '20ac'],
    ['41', '410'], ['41', 'e01'], ['41', 'c4'], ['41', '20ac'], ['41', '5d0']],
    'legacy: single-byte encodings decode by the standard\'s indexes, ASCII as itself';
is_deeply $got->{unmapped}, ['fffd', '7a'], 'legacy: a byte the index leaves out is U+FFFD';
like $got->{unmappedFatal}, qr/^threw TypeError/, 'legacy: fatal throws for it';
is_deeply $got->{noBom}, ['43f', 'bb', '457'], 'legacy: no BOM is sniffed in a single-byte encoding';
is $got->{utf16be}, "h\x{1f600}", 'utf-16be: BOM dropped, surrogate pairs joined';
is_deeply $got->{utf16beStream}, ['', '', "\x{1f600}"], 'utf-16be: stream holds split code units and pairs';
like $got->{utf16beFatal}, qr/^threw TypeError/, 'utf-16be: fatal throws for a lone surrogate';
is_deeply $got->{userDefined}, ['41', 'f780', 'f7ff'], 'x-user-defined: high bytes to U+F780..U+F7FF';
is $got->{stream}, "\x{41f}\x{440}\x{438}\x{432}\x{435}\x{442}", 'TextDecoderStream decodes KOI8-R';
like $got->{stillUnsupported}, qr/^threw RangeError/, 'the replacement encoding (iso-2022-kr) is a RangeError';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
