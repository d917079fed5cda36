#!/usr/bin/perl
# SPEC 5 (issue 4): Blob and File (W3C File API) and FormData (WHATWG XHR),
# with multipart/form-data written for FormData bodies and read back by
# formData(), as on Cloudflare Workers. (Blob.stream() comes with
# ReadableStream.)
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

my $CHECKS = q{
    const bytes = (buffer) => Array.from(new Uint8Array(buffer));
};

sub run_checks {
    my ($name, $code, %req) = @_;
    return $t->run_checks('api', $name, $CHECKS . $code, %req);
}
my ($T, $F) = (JSON::PP::true, JSON::PP::false);

# ---- Blob and File ----

my $got = run_checks('blob', q{
    export default { fetch: () => results({
      empty: () => { const b = new Blob(); return [b.size, b.type]; },
      parts: async () => {
        const b = new Blob(['h\u00e9', new Uint8Array([33]), new Uint16Array([0x4241]).buffer, new Blob(['!'])]);
        return [b.size, await b.text()];
      },
      type: () => [new Blob([], { type: 'Text/HTML;Charset=UTF-8' }).type, new Blob([], { type: 'caf\u00e9/x' }).type],
      arrayBuffer: async () => { const b = await new Blob(['abc']).arrayBuffer(); return [b instanceof ArrayBuffer, bytes(b)]; },
      bytes: async () => Array.from(await new Blob(['ab']).bytes()),
      copiesParts: async () => { const u = new Uint8Array([1, 2]); const b = new Blob([u]); u[0] = 9; return bytes(await b.arrayBuffer()); },
      ownBuffers: async () => { const b = new Blob(['ab']); const x = new Uint8Array(await b.arrayBuffer()); x[0] = 0; return b.text(); },
      slice: async () => {
        const b = new Blob(['0123456789'], { type: 'text/plain' });
        return [await b.slice(2, 5).text(), await b.slice(-3).text(), await b.slice(5, 2).text(), await b.slice(0, -8).text(),
          b.slice(1, 2).type, b.slice(1, 2, 'X/Y').type, b.slice(100).size];
      },
      endings: async () => [await new Blob(['a\r\nb\rc'], { endings: 'native' }).text() === 'a\nb\nc',
        await new Blob(['a\r\nb']).text() === 'a\r\nb'],
      badEndings: () => new Blob([], { endings: 'dos' }),
      notSequence: () => new Blob('abc'),
      file: () => { const f = new File(['data'], 'report.csv', { type: 'text/csv', lastModified: 1700000000000 }); return [f.name, f.size, f.type, f.lastModified, f instanceof Blob, f instanceof File]; },
      fileNow: () => { const before = Date.now(); const f = new File([], 'x'); return f.lastModified >= before && f.lastModified <= Date.now(); },
      fileNeedsName: () => new File(['x']),
      fileText: () => new File(['contents'], 'a.txt').text(),
      sliceOfFile: () => { const s = new File(['abc'], 'a.txt').slice(1); return [s instanceof File, s instanceof Blob, s.size]; },
      tags: () => [Object.prototype.toString.call(new Blob()), Object.prototype.toString.call(new File([], 'f'))],
    }) };
});
is_deeply $got->{empty}, [0, ''], 'new Blob() is empty and untyped';
is_deeply $got->{parts}, [7, "h\x{e9}!AB!"], 'a Blob joins strings (as UTF-8), views, ArrayBuffers and Blobs';
is_deeply $got->{type}, ['text/html;charset=utf-8', ''], 'the type is lower-cased; a non-ASCII type becomes empty';
is_deeply $got->{arrayBuffer}, [$T, [97, 98, 99]], 'arrayBuffer() resolves to the bytes';
is_deeply $got->{bytes}, [97, 98], 'bytes() resolves to a Uint8Array';
is_deeply $got->{copiesParts}, [1, 2], 'the parts are copied: changing them later changes nothing';
is $got->{ownBuffers}, 'ab', 'each arrayBuffer() is a copy: changing it changes nothing';
is_deeply $got->{slice}, ['234', '789', '', '01', '', 'x/y', 0],
    'slice(start, end, type): negative from the end, empty when reversed, untyped unless given';
is_deeply $got->{endings}, [$T, $T], 'endings: "native" turns line breaks into LF; the default keeps them';
like $got->{badEndings}, qr/^threw TypeError/, 'an unknown endings value is a TypeError';
like $got->{notSequence}, qr/^threw TypeError/, 'the parts must be a sequence, not a string';
is_deeply $got->{file}, ['report.csv', 4, 'text/csv', 1700000000000, $T, $T], 'File: name, size, type, lastModified; it is a Blob';
is $got->{fileNow}, $T, 'File: lastModified defaults to now';
like $got->{fileNeedsName}, qr/^threw TypeError/, 'File: a name is required';
is $got->{fileText}, 'contents', 'File: text()';
is_deeply $got->{sliceOfFile}, [$F, $T, 2], 'a slice of a File is a Blob';
is_deeply $got->{tags}, ['[object Blob]', '[object File]'], 'Object.prototype.toString names them';

# ---- FormData ----

$got = run_checks('formdata', q{
    export default { fetch: () => results({
      basics: () => {
        const fd = new FormData();
        fd.append('a', '1'); fd.append('b', '2'); fd.append('a', '3');
        return [fd.get('a'), fd.getAll('a'), fd.has('b'), fd.has('c'), fd.get('c'), fd.getAll('c')];
      },
      order: () => { const fd = new FormData(); fd.append('z', '1'); fd.append('a', '2'); fd.append('z', '3'); return [...fd]; },
      set: () => {
        const fd = new FormData();
        fd.append('a', '1'); fd.append('b', '2'); fd.append('a', '3');
        fd.set('a', 'x'); fd.set('c', 'new');
        return [...fd];
      },
      delete: () => { const fd = new FormData(); fd.append('a', '1'); fd.append('a', '2'); fd.delete('a'); return [fd.has('a'), [...fd]]; },
      strings: () => { const fd = new FormData(); fd.append('n', 42); fd.append('o', { toString: () => 'obj' }); return [fd.get('n'), fd.get('o')]; },
      blobBecomesFile: () => {
        const fd = new FormData(); fd.append('f', new Blob(['x'], { type: 'text/plain' }));
        const f = fd.get('f');
        return [f instanceof File, f.name, f.type, f.size];
      },
      filename: () => {
        const fd = new FormData(); const file = new File(['x'], 'orig.txt');
        fd.append('renamed', file, 'new.txt'); fd.append('same', file);
        return [fd.get('renamed').name, fd.get('same') === file];
      },
      filenameWithString: () => new FormData().append('a', 'b', 'c.txt'),
      noForm: () => new FormData({}),
      iterators: () => {
        const fd = new FormData(); fd.append('a', '1'); fd.append('b', '2');
        const each = []; fd.forEach((v, k) => each.push(`${k}=${v}`));
        return [[...fd.keys()], [...fd.values()], [...fd.entries()], each];
      },
      roundTrip: async () => {
        const fd = new FormData();
        fd.append('text', 'caf\u00e9 \u{1F600}');
        fd.append('lines', 'one\ntwo\r\nthree');
        fd.append('quoted "name"\n', 'v');
        fd.append('upload', new File([new Uint8Array([0, 13, 10, 45, 45, 255])], 'bin "x".dat', { type: 'application/x-thing' }));
        fd.append('untyped', new File(['u'], 'u.txt'));
        const back = await new Response(fd).formData();
        const out = [];
        for (const [k, v] of back) {
          out.push([k, typeof v === 'string' ? v : [v.name, v.type, Array.from(new Uint8Array(await v.arrayBuffer()))]]);
        }
        return out;
      },
      boundariesDiffer: () => {
        const type = () => new Response(new FormData()).headers.get('content-type');
        return type() !== type();
      },
      tag: () => Object.prototype.toString.call(new FormData()),
    }) };
});
is_deeply $got->{basics}, ['1', ['1', '3'], $T, $F, undef, []], 'append, get (first), getAll, has; a missing name is null';
is_deeply $got->{order}, [['z', '1'], ['a', '2'], ['z', '3']], 'entries keep insertion order (no sorting)';
is_deeply $got->{set}, [['a', 'x'], ['b', '2'], ['c', 'new']], 'set() replaces in place of the first, or appends';
is_deeply $got->{delete}, [$F, []], 'delete() removes every entry of the name';
is_deeply $got->{strings}, ['42', 'obj'], 'values that are not Blobs become strings';
is_deeply $got->{blobBecomesFile}, [$T, 'blob', 'text/plain', 1], 'a Blob value becomes a File named "blob"';
is_deeply $got->{filename}, ['new.txt', $T], 'the filename argument renames; a File without one is kept as it is';
like $got->{filenameWithString}, qr/^threw TypeError/, 'a filename with a string value is a TypeError';
like $got->{noForm}, qr/^threw TypeError/, 'new FormData(form) is a TypeError: there are no HTML forms';
is_deeply $got->{iterators}, [['a', 'b'], ['1', '2'], [['a', '1'], ['b', '2']], ['a=1', 'b=2']], 'keys, values, entries, forEach';
is_deeply $got->{roundTrip}, [
    ['text', "caf\x{e9} \x{1f600}"],
    ['lines', "one\r\ntwo\r\nthree"],
    ["quoted \"name\"\r\n", 'v'],
    ['upload', ['bin "x".dat', 'application/x-thing', [0, 13, 10, 45, 45, 255]]],
    ['untyped', ['u.txt', 'application/octet-stream', [117]]],
], 'FormData -> multipart body -> formData(): names, UTF-8 text, files and bytes survive; line breaks become CRLF';
is $got->{boundariesDiffer}, $T, 'every multipart body gets its own boundary';
is $got->{tag}, '[object FormData]', 'Object.prototype.toString names it';

# ---- a multipart body written by the tenant, read by Perl ----

$t->put_script('api', 'makeform', q{
    export default {
      fetch() {
        const fd = new FormData();
        fd.append('greeting', 'hello');
        fd.append('doc', new File(['{"a":1}'], 'a.json', { type: 'application/json' }));
        return new Response(fd);
      },
    };
});
my $r = $t->get('/t/makeform');
my ($boundary) = ($r->{headers}{'content-type'} // '') =~ /^multipart\/form-data; boundary=(\S+)$/;
ok defined $boundary, 'a FormData response is multipart/form-data with a boundary';
my @parts = split /\r\n--\Q$boundary\E(?:--)?\r\n/, "\r\n$r->{content}";
shift @parts;
is scalar(@parts), 2, 'the body has one part per entry, and ends with the closing delimiter';
is $parts[0], qq{Content-Disposition: form-data; name="greeting"\r\n\r\nhello}, 'a text part';
is $parts[1], qq{Content-Disposition: form-data; name="doc"; filename="a.json"\r\nContent-Type: application/json\r\n\r\n{"a":1}},
    'a file part with its file name and type';

# ---- an upload handler: the client's file comes back byte for byte ----

$t->put_script('api', 'upload', q{
    export default {
      async fetch(request) {
        const form = await request.formData();
        const file = form.get('file');
        if (!(file instanceof File)) return new Response('no file\n', { status: 400 });
        return new Response(file, {
          headers: { 'x-file-name': encodeURIComponent(file.name), 'x-owner': form.get('owner') },
        });
      },
    };
});
my $payload = join '', map { chr(($_ * 7) % 256) } 0 .. 4999;
$payload .= "\r\n--not-the-boundary\r\n";
my $b = 'XyZ123';
my $body = "preamble is ignored\r\n--$b\r\nContent-Disposition: form-data; name=\"owner\"\r\n\r\nalice\r\n"
    . "--$b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.bin\"\r\nContent-Type: Application/Octet-Stream\r\n\r\n"
    . "$payload\r\n--$b--\r\nepilogue is ignored";
$r = $t->request('POST', '/t/upload', headers => { 'Content-Type' => "multipart/form-data; boundary=$b" }, content => $body);
is $r->{status}, 200, 'upload: the handler finds the file';
is length($r->{content}), length($payload), 'upload: the file has its exact length';
ok $r->{content} eq $payload, 'upload: and its exact bytes (binary, CRLF, dashes)';
like $r->{headers}{'content-type'}, qr{^application/octet-stream$}, 'upload: the File\'s type (lower-cased) is the Content-Type';
is $r->{headers}{'x-file-name'}, 'data.bin', 'upload: the file name';
is $r->{headers}{'x-owner'}, 'alice', 'upload: the text field next to it';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
