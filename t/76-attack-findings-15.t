#!/usr/bin/perl
# Attack round 17: a battery written from README.md alone, against what
# landed since round 16 (static assets served in C++, the management API's
# assets side, the 64-dispatch tree). Each case asserts what the README
# promises and failed on the commit it was found on (ee728eb).
#
# Found and fixed:
# - not_found_handling "404-page" looked for the nearest 404.html by
#   building and hashing every ancestor of the path: n segments cost n
#   lookups of keys up to the path's length, in C++ outside any limit.
#   env.ASSETS took a URL of any length: one fetch of "/a/a/…" (120,000
#   segments) held the worker, every tenant with it, 35 s (and one of 32,000,
#   within the 64 KiB a dispatch's URL may have now, ~0.3 s). Only
#   ancestors that fit in the manifest's longest path are looked up now.
# - A dispatch's whole (not streamed) answer was moved, or for a static
#   asset copied, into the caller's queue at once, where no limit counted
#   it: 45 unread 10 MB answers of a service were 450 MB of the worker, 45
#   env.ASSETS answers of one 20 MB file 900 MB (one copy each), under a
#   128m limit. The answer stays the target's now, held and counted there
#   as for a client, and is pulled 64 KiB ahead of the caller's reads.
# - Static assets waiting for slow clients were counted once per response
#   against the worker's quarter of dispatch_worker_memory, and against no
#   script: 25 clients that did not read one cached 20 MB file (20 MB of
#   memory) counted 500 MB, and every tenant's response that did not fit
#   in the rest was refused 503. A content now counts once however many
#   responses send it (a file too large for the cache is shared while one
#   does), and a script's files together at most half its
#   dispatch_memory_limit, as a script's own responses (README
#   "Containment").
# - A bucket upload rewrote any file its session's manifest named, also one
#   the script already had and served: an upload token (handed to a
#   deployer's CI, not the admin token) changed a live file's bytes and
#   type without a deploy, and workers that had it cached kept the old one.
#   Only the files the session still waits for, and the script does not
#   have, are written now.
# - A dispatch's URL had no bound, and a target's static assets are routed
#   by it in C++, outside any limit: through a service binding, 100
#   run_worker_first rules over a 1 MB URL cost ~85 ms of the worker a
#   dispatch, for ~1 ms of the caller's CPU. A dispatch's URL is at most
#   64 KiB now (Cloudflare's is 16 KB).
# - The asset cache (dispatch_asset_cache) was one LRU for every tenant:
#   a site whose 12 files of 6 MB passed through it pushed every other
#   site's files out, and their next requests all went to Redis. A script
#   holding a quarter of the cache or more now makes room with its own
#   least recently used file, as the Cache API's index does.
# - The README says a Host that new URL() would refuse is answered 400
#   before the script runs; nginx let "%", bytes above 0x7f, invalid IPv4
#   forms ("1.2.3.999", "a.1", "x.0": a last label that is a number makes
#   the URL Standard read the host as an address) and invalid IPv6
#   literals ("[zz]") through, and new URL(request.url) threw in every
#   router for that client.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;
use Dispatch::Admin;
use Digest::MD5 qw(md5_hex);
use JSON::PP qw(encode_json);
use MIME::Base64 qw(encode_base64);
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(time sleep);

my $t = Dispatch::Test->new(
    workers => 1,
    server  => qq{
        location /client/v4/ {
            client_max_body_size 20m;
            dispatch_admin token=$Dispatch::Admin::TOKEN;
        }
        $Dispatch::Hostile::LOC
    },
);
$t->put_script('tenants', 'good', $Dispatch::Hostile::GOOD_JS);

# Stores script NAME of namespace tenants with files {path => bytes} as the
# management API does (README "Static assets"), and a worker when given.
sub put_site {
    my ($name, $files, %o) = @_;
    my %manifest;
    for my $path (sort keys %$files) {
        my $hash = md5_hex("$name:$path");
        $manifest{$path} = { hash => $hash, size => length $files->{$path} };
        $t->redis('HSET', "dispatch:{tenants}:asset:$name:$hash", 'body', $files->{$path}, 'type', '');
    }
    my $assets = encode_json({ manifest => \%manifest, config => $o{config} || {} });
    $t->put_script('tenants', $name, $o{code} // '', assets => $assets,
                   $o{metadata} ? (metadata => encode_json($o{metadata})) : ());
}

sub rss_mb { my ($w) = @_; my ($pid) = $w->worker_pids; return $w->rss_kb($pid) / 1024 }

subtest 'a 404-page lookup of a path of 32,000 segments does not hold the worker' => sub {
    put_site('nf', { '/404.html' => 'nope' }, config => { not_found_handling => '404-page' },
             metadata => { main_module => 'w.js', bindings => [{ type => 'assets', name => 'ASSETS' }] },
             code => q{
        export default { async fetch(req, env) {
          const deep = new Request('http://x/' + 'a/'.repeat(32000));
          let r;
          for (let i = 0; i < 10; i++) r = await env.ASSETS.fetch(deep);
          return new Response(r.status + ' ' + await r.text());
        } };
    });
    raw_request($t, '/t/good');    # its isolate is up
    my $c = $t->send_request({ path => '/t/nf' });
    my ($worst, $served) = (0, 0);
    for (1 .. 20) {
        my $t0 = time;
        $served++ if raw_request($t, '/t/good', timeout => 30)->{status} == 200;
        my $took = time - $t0;
        $worst = $took if $took > $worst;
    }
    is $served, 20, 'another tenant is answered meanwhile';
    cmp_ok $worst, '<', 0.15, "never held up for a lookup (worst ${worst}s; on main each took ~0.3 s, one of 120,000 segments 35 s)";
    my $r = $t->read_response($c, timeout => 30);
    is "$r->{status} $r->{content}", '200 404 nope', 'the nearest 404.html answers, with 404';
};

subtest 'unread whole answers of a service are held by the service, counted in its limit' => sub {
    $t->put_script('tenants', 'big', q{
        const body = new Uint8Array(10 << 20);
        export default { fetch() { return new Response(body); } };
    });
    $t->put_script('tenants', 'hoard', q{
        export default { async fetch(req, env) {
          const kept = [];
          let why = '';
          for (let i = 0; i < 45 && !why; i++) {
            try { kept.push(await env.BIG.fetch('http://x/')); } catch (e) { why = e.message; }
          }
          await new Promise(r => setTimeout(r, 1500));
          return new Response(kept.length + ' ' + why);
        } };
    }, metadata => encode_json({ main_module => 'w.js',
                                 bindings => [{ type => 'service', name => 'BIG', service => 'big' }] }));
    my $before = rss_mb($t);
    my $c = $t->send_request({ path => '/t/hoard' });
    sleep 1.2;
    my $grew = rss_mb($t) - $before;
    my $r = $t->read_response($c, timeout => 30);
    like $r->{content}, qr/^[1-9] Worker "big" is overloaded/,
        'past half of its dispatch_memory_limit the service is refused (all 45 were taken)';
    cmp_ok $grew, '<', 150, "the worker holds about that much, not 450 MB (grew ${grew} MB)";
};

subtest '45 unread env.ASSETS answers of one 20 MB file are one copy of it' => sub {
    my $size = 20 << 20;
    put_site('vid', { '/v.bin' => 'v' x $size }, config => { run_worker_first => JSON::PP::true },
             metadata => { main_module => 'w.js', bindings => [{ type => 'assets', name => 'ASSETS' }] },
             code => q{
        export default { async fetch(req, env) {
          const kept = [];
          for (let i = 0; i < 45; i++) kept.push(await env.ASSETS.fetch('http://x/v.bin'));
          await new Promise(r => setTimeout(r, 3000));
          return new Response(kept.length + ' ' + kept[44].status);
        } };
    });
    my $before = rss_mb($t);
    my $c = $t->send_request({ path => '/t/vid' });
    sleep 2.5;
    my $grew = rss_mb($t) - $before;
    my $r = $t->read_response($c, timeout => 30);
    is $r->{content}, '45 200', 'every one is answered';
    cmp_ok $grew, '<', 150, "the worker holds one copy, not 45 (grew ${grew} MB; one copy each grew it 250 MB to 1 GB)";
};

subtest 'clients that do not read a static file count it once, and a site at most half its limit' => sub {
    # a quarter of dispatch_worker_memory is 64m here; a script half of 16m
    my $w = Dispatch::Test->new(workers => 1, server => $Dispatch::Hostile::LOC,
                                http => 'dispatch_worker_memory 256m; dispatch_memory_limit 16m; '
                                      . 'dispatch_asset_cache 64m;');
    my $size = 6 << 20;
    my (%manifest);
    for my $i (1 .. 11) {
        my $hash = md5_hex("file$i");
        $manifest{"/t/site/f$i.bin"} = { hash => $hash, size => $size };
        $w->redis('HSET', "dispatch:{tenants}:asset:site:$hash", 'body', chr(64 + $i) x $size, 'type', '');
    }
    $w->put_script('tenants', 'site', '', assets => encode_json({ manifest => \%manifest }));
    $w->put_script('tenants', 'other', q{
        const body = new Uint8Array(6 << 20);
        export default { fetch() { return new Response(body); } };
    });
    my @slow;
    for my $path ((map { "/t/site/f1.bin" } 1 .. 8), (map { "/t/site/f$_.bin" } 2 .. 11)) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $w->port, Proto => 'tcp')
            or die "connect: $!";
        setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096);
        print $s "GET $path HTTP/1.1\r\nHost: x\r\n\r\n";
        push @slow, $s;
        sleep 0.05;
    }
    sleep 0.5;
    my $r = raw_request($w, '/t/other', timeout => 10);
    is $r->{status}, 200, "another tenant's 6 MB answer is sent while 18 clients do not read the site's files";
    like $w->error_log, qr/"tenants\/site": the responses waiting for slow clients hold/,
        'the site itself is refused past half its limit';
    close $_ for @slow;
};

subtest "an upload token does not rewrite a file the script already has" => sub {
    my $ok = api($t, POST => '', json => { name => 'shop' });
    is $ok->{status}, 200, 'namespace shop';
    my $live = "live bytes\n";
    my $h = md5_hex($live);
    my $session = sub {
        my (%m) = @_;
        return api($t, POST => '/shop/scripts/site/assets-upload-session',
                   json => { manifest => { map { $_ => { hash => md5_hex($m{$_}), size => length $m{$_} } } keys %m } })->{json}{result};
    };
    my $bucket = sub {
        my ($jwt, $hash, $bytes, $type) = @_;
        my $b = 'b0undary';
        my $body = "--$b\r\nContent-Disposition: form-data; name=\"$hash\"; filename=\"$hash\"\r\n"
                 . "Content-Type: $type\r\n\r\n" . encode_base64($bytes, '') . "\r\n--$b--\r\n";
        return api($t, POST => undef, raw_path => "/client/v4/accounts/$ACCOUNT/workers/assets/upload?base64=true",
                   content => $body, token => $jwt, headers => { 'Content-Type' => "multipart/form-data; boundary=$b" });
    };
    my $s = $session->('/t/shop/a.txt' => $live);
    my $done = $bucket->($s->{jwt}, $h, $live, 'text/plain')->{json}{result}{jwt};
    my $up = curl_upload($t, 'shop', 'site', metadata => { main_module => 'w.js', assets => { jwt => $done } },
                         files => [['w.js', 'w.js', 'application/javascript+module', $Dispatch::Hostile::GOOD_JS]]);
    is $up->{status}, 200, 'deployed with /t/shop/a.txt';

    # A new session that names the live file and a new one hands out an
    # upload token; with it, a part for the live file's hash.
    my $s2 = $session->('/t/shop/a.txt' => $live, '/t/shop/n.txt' => "new\n");
    is_deeply $s2->{buckets}, [[md5_hex("new\n")]], 'the session asks for the new file only';
    my $evil = "EVIL bytes\n";
    $bucket->($s2->{jwt}, $h, $evil, 'text/html');
    is_deeply [$t->redis('HGET', "dispatch:{shop}:asset:site:$h", 'body'),
               $t->redis('HGET', "dispatch:{shop}:asset:site:$h", 'type')], [$live, 'text/plain'],
        'the live file keeps its bytes and type';
    my $r = $bucket->($s2->{jwt}, md5_hex("new\n"), "new\n", 'text/plain');
    is $r->{status}, 201, 'the file it asked for completes the session';
};

subtest 'a dispatch carries a URL of at most 64 KiB: routing a 1 MB one by 100 rules held the worker' => sub {
    put_site('ruled', { '/x.txt' => 'x' }, config => { run_worker_first => [ map { "/*b$_*" } 1 .. 100 ] },
             code => q{ export default { fetch() { return new Response('worker'); } }; },
             metadata => { main_module => 'w.js' });
    $t->put_script('tenants', 'longurl', q{
        export default { async fetch(req, env) {
          const r = new Request('http://x/' + 'a'.repeat(1 << 20));
          let n = 0, why = '';
          for (let i = 0; i < 10 && !why; i++) {
            try { await env.RULED.fetch(r); n++; } catch (e) { why = e.message; }
          }
          return new Response(n + ' ' + why);
        } };
    }, metadata => encode_json({ main_module => 'w.js',
                                 bindings => [{ type => 'service', name => 'RULED', service => 'ruled' }] }));
    my @c = map { $t->send_request({ path => '/t/longurl' }) } 1 .. 3;
    sleep 0.2;
    my $t0 = time;
    my $g = raw_request($t, '/t/good', timeout => 30);
    my $waited = time - $t0;
    cmp_ok $waited, '<', 0.5, 'another tenant is answered without waiting (it waited ~2 s)';
    my ($r) = map { $t->read_response($_, timeout => 30) } @c;
    like $r->{content}, qr/^0 fetch\(\): the URL is longer than 64 KiB/, 'the dispatch throws a TypeError';
};

subtest 'a Host that new URL() refuses is answered 400 before the script runs' => sub {
    $t->put_script('tenants', 'url-host', q{
        export default { fetch(req) { return new Response(new URL(req.url).host); } };
    });
    my %want = ('1.2.3' => '200 1.2.0.3', '0x7f.1' => '200 127.0.0.1', 'h.example' => '200 h.example',
                '[::1]' => '200 [::1]', '1e1' => '200 1e1');
    $want{$_} = '400' for 'h%', 'h%2f', 'h%41', "\xff", "\xe2\x80\x8b", '1.2.3.999', 'a.1', 'x.0', '08',
                          '256.1', '1.2.3.4.5', '4294967296', '[zz]', '[1::2::3]';
    for my $host (sort keys %want) {
        my $r = raw_request($t, { path => '/t/url-host', host => $host }, timeout => 10);
        my $got = $r->{status} == 200 ? "200 $r->{content}" : "$r->{status}";
        (my $shown = $host) =~ s/([^\x21-\x7e])/sprintf('\\x%02x', ord $1)/ge;
        is $got, $want{$host}, "Host: $shown: " . ($want{$host} eq '400' ? 'answered 400 (the script threw)' : 'request.url has it');
    }
};

subtest "one site's many large files do not push another site's files out of the asset cache" => sub {
    put_site('small', { map { ("/t/small/s$_.txt" => "s$_" x 1000) } 1 .. 10 });
    put_site('flood', { map { ("/t/flood/f$_.bin" => chr(64 + $_) x (6 << 20)) } 1 .. 12 });
    raw_request($t, "/t/small/s$_.txt") for 1 .. 10;
    is scalar(grep { raw_request($t, "/t/flood/f$_.bin", timeout => 10)->{status} == 200 } 1 .. 12), 12,
        '72 MB of one site pass through the 32m cache';
    my $before = $t->redis_command_calls;
    is scalar(grep { raw_request($t, "/t/small/s$_.txt")->{content} eq "s$_" x 1000 } 1 .. 10), 10,
        "the other site's 10 files are answered";
    is +($t->redis_command_calls->{hmget} // 0) - ($before->{hmget} // 0), 0,
        'from the worker\'s cache, without Redis (all 10 were read again)';
};

done_testing;
