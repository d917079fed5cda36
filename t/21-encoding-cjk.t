#!/usr/bin/perl
# TextDecoder's CJK encodings (the Encoding Standard's multi-byte legacy
# ones: shift_jis, euc-jp, iso-2022-jp, gbk, gb18030, big5, euc-kr), as
# Workers decodes them: mail (postal-mime), pages fetched from old sites.
# The bytes are made by Perl's Encode (not by ICU, which decodes them here),
# sent whole and in pieces of 1, 2, 3 and 5 bytes through { stream: true }.
use strict;
use warnings;
use utf8;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Encode qw(encode decode);

# 4 MB of Shift_JIS costs ~20 ms to decode, beside ~10 ms to read it: the
# large check decodes it twice
my $t = Dispatch::Test->new(
    http   => "dispatch_cpu_limit 2s;\n    log_format cpu '\$request_uri \$dispatch_outcome \$dispatch_cpu_ms';",
    server => q{ client_max_body_size 8m; access_log %%PREFIX%%/cpu.log cpu; location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);

# POST the bytes: ?enc=LABEL&split=N (stream pieces of N bytes)&fatal
$t->put_script('api', 'decode', <<'JS');
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const bytes = new Uint8Array(await request.arrayBuffer());
    const split = Number(url.searchParams.get('split') || 0);
    try {
      const decoder = new TextDecoder(url.searchParams.get('enc'), { fatal: url.searchParams.has('fatal') });
      let text = '';
      if (split > 0) {
        for (let i = 0; i < bytes.length; i += split) {
          text += decoder.decode(bytes.subarray(i, i + split), { stream: true });
        }
        text += decoder.decode();
      } else {
        text = decoder.decode(bytes);
      }
      return new Response(decoder.encoding + ':' + text);
    } catch (e) {
      return new Response(e.name + ': ' + e.message, { status: 400 });
    }
  }
};
JS

sub decoded {
    my ($query, $bytes) = @_;
    my $r = $t->request('POST', "/t/decode?$query", content => $bytes);
    return "$r->{status} " . decode('UTF-8', $r->{content});
}

my @cases = (
    # label, what Perl's Encode names it, text
    ['shift_jis',   'cp932',       '日本語のテキスト、ｶﾀｶﾅ ABC ①②③ 髙﨑'],
    ['euc-jp',      'euc-jp',      '日本語のテキスト、ｶﾀｶﾅ ABC'],
    ['iso-2022-jp', 'iso-2022-jp', '日本語のテキスト ABC 漢字 and ASCII again'],
    ['gbk',         'cp936',       '中文 简体 ABC 编码'],
    ['big5',        'big5-eten',   '繁體中文 ABC 編碼'],
    ['euc-kr',      'cp949',       '한국어 텍스트 ABC 똠방각하'],
);
for my $case (@cases) {
    my ($label, $perl, $text) = @$case;
    my $bytes = encode($perl, $text, Encode::FB_CROAK | Encode::LEAVE_SRC);
    for my $split (0, 1, 2, 3, 5) {
        is decoded("enc=$label&split=$split", $bytes), "200 $label:$text",
            "$label decodes what Encode's $perl made" . ($split ? ", in pieces of $split" : '');
    }
}

# GB18030's four-byte sequences reach the whole of Unicode (by the
# standard's ranges: U+10000 is 90 30 81 30, U+1F600 is 94 39 FC 36); gbk
# decodes them too
is decoded('enc=gb18030', "\xD6\xD0\x90\x30\x81\x30\x94\x39\xFC\x36A"), "200 gb18030:中\x{10000}\x{1F600}A",
    'gb18030: four-byte sequences';
is decoded('enc=gbk&split=1', "\x94\x39\xFC\x36"), "200 gbk:\x{1F600}", 'gbk decodes as gb18030, in pieces';

is_deeply [ map { (split / /, decoded("enc=$_", 'A'))[1] } qw(sjis ms932 windows-31j x-euc-jp csiso2022jp gb2312 chinese x-gbk big5-hkscs cn-big5 windows-949 ks_c_5601-1987 korean) ],
    [ map { "$_:A" } qw(shift_jis shift_jis shift_jis euc-jp iso-2022-jp gbk gbk gbk big5 big5 euc-kr euc-kr euc-kr) ],
    "the standard's labels name them";
like decoded('enc=iso-2022-kr', 'A'), qr/^400 RangeError/, 'the replacement encoding stays a RangeError';

# invalid bytes: one U+FFFD each, an ASCII byte after a bad lead kept; fatal throws
is decoded('enc=shift_jis', "\x82\xA0\xFF\x41\x82"), "200 shift_jis:あ\x{FFFD}A\x{FFFD}",
    'an invalid byte and an unfinished sequence are U+FFFD';
is decoded('enc=euc-kr', "\xB0\x41\xB0\x20"), "200 euc-kr:\x{CE9A}\x{FFFD} ",
    'euc-kr is windows-949 (B0 41 is a character); a bad trail byte that is ASCII is kept';
like decoded('enc=shift_jis&fatal', "\x82\xA0\xFF"), qr/^400 TypeError: The encoded data was not valid for encoding shift_jis$/,
    'fatal: a TypeError naming the encoding';
like decoded('enc=big5&fatal&split=1', "\xA4"), qr/^400 TypeError/, 'fatal: an unfinished sequence at the end of a stream';

# ISO-2022-JP's escapes cut anywhere: its mode and its "two escapes in a
# row" error carry across streaming calls (an invalid escape goes back to
# the mode before it)
$t->put_script('api', 'cuts', <<'JS');
export default {
  fetch() {
    const differ = [];
    for (const hex of ['1b 24 42 30 21 1b 28 42 41', '1b 24 42 1b 28 42 41 42', '41 1b 24 42 1b 24 42 30 21',
                       '1b 24 40 40 00 00 00 1b 28 40 40 00 40 40', '1b 28 49 31 1b 28 4a 5c 7e']) {
      const bytes = new Uint8Array(hex.split(' ').map((h) => parseInt(h, 16)));
      const whole = new TextDecoder('iso-2022-jp').decode(bytes);
      for (let cut = 1; cut < bytes.length; cut++) {
        for (let second = cut; second <= bytes.length; second++) {
          const d = new TextDecoder('iso-2022-jp');
          const text = d.decode(bytes.subarray(0, cut), { stream: true }) +
            d.decode(bytes.subarray(cut, second), { stream: true }) + d.decode(bytes.subarray(second));
          if (text !== whole) differ.push(`${hex} cut at ${cut}, ${second}: ${escape(text)} for ${escape(whole)}`);
        }
      }
    }
    return new Response(differ.join('\n') || 'same');
  }
};
JS
is $t->get('/t/cuts')->{content}, 'same', 'ISO-2022-JP cut in three anywhere decodes as whole';

# a TextDecoderStream and a large body: 4 MB of Shift_JIS in one decode and through a stream
$t->put_script('api', 'large', <<'JS');
export default {
  async fetch(request) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    const whole = new TextDecoder('shift_jis').decode(bytes);
    let streamed = '';
    const reader = new Blob([bytes]).stream().pipeThrough(new TextDecoderStream('sjis')).getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) streamed += r.value;
    return new Response(`${whole.length} ${streamed === whole} ${whole.slice(0, 3)}`);
  }
};
JS
my $large = encode('cp932', '日本語' x ((4 << 20) / 6));
my $r = $t->request('POST', '/t/large', content => $large);
is decode('UTF-8', $r->{content}), length($large) / 2 . ' true 日本語', '4 MB decoded whole and through a TextDecoderStream';

# one decode of 48 MB (~200 ms) under a script's 10 ms limit: it stops
# between pieces, not at the end
$t->put_script('api', 'huge', <<'JS', metadata => '{"limits":{"cpu_ms":10}}');
const bytes = new Uint8Array(48 << 20);
new Uint16Array(bytes.buffer).fill(0xA082);    // 82 A0, Hiragana A, 24 M times
export default { fetch: () => new Response(String(new TextDecoder('shift_jis').decode(bytes).length)) };
JS
$r = $t->get('/t/huge');
is "$r->{status} $r->{content}", "503 exceeded_cpu\n", 'a decode past the CPU limit answers exceeded_cpu';
my $line;
$t->wait_for(sub { ($line) = $t->read_prefix_file('cpu.log') =~ m{^/t/huge (.*)$}m; $line }, timeout => 5);
my ($outcome, $cpu_ms) = split / /, $line // '';
ok $outcome eq 'exceeded_cpu' && $cpu_ms < 100, "it stopped at the limit: ${\($cpu_ms // '?')} ms of CPU (the whole decode ~200)";

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
