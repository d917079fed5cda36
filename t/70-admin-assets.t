#!/usr/bin/perl
# Static assets in the management API, as wrangler drives it (README
# "Static assets"): POST .../scripts/NAME/assets-upload-session with the
# manifest answers a token and the buckets of hashes not stored yet; POST
# /accounts/A/workers/assets/upload?base64=true with that token (not the
# admin token) stores each bucket and answers the completion token once all
# are in; the script upload's metadata.assets.jwt names it, and the script's
# hash gains the `assets` field (manifest and normalized config) in the same
# transaction. Redis holds each file at dispatch:{NS}:asset:NAME:HASH (body,
# type). Every token is attacker input: forged, of another namespace, used
# for the other purpose, replayed: refused; every refused bucket stores
# nothing. keep_assets keeps them, an upload without assets drops them, a
# new version's upload removes files no longer in its manifest, a delete
# removes them, a rename moves them.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use Digest::MD5 qw(md5_hex);
use MIME::Base64 qw(encode_base64 decode_base64);
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time);
use IO::Socket::INET;

my $JSONC = JSON::PP->new->canonical->utf8;
our $t = admin_server();

my $WORKER = qq{export default { async fetch(req, env) { return new Response(typeof env.ASSETS); } };\n};

sub file { my ($bytes) = @_; return { bytes => $bytes, hash => md5_hex($bytes), size => length $bytes } }
sub manifest_of {
    my (%files) = @_;
    return { map { $_ => { hash => $files{$_}{hash}, size => $files{$_}{size} } } keys %files };
}
sub session {
    my ($ns, $name, $manifest, %o) = @_;
    return api($t, POST => "/$ns/scripts/$name/assets-upload-session", json => { manifest => $manifest }, %o);
}
sub multipart {
    my (@parts) = @_;
    my $b = 'b0undary' . int(rand(1e9));
    my $body = '';
    for my $p (@parts) {
        my ($name, $value, $type) = @$p;
        $body .= "--$b\r\nContent-Disposition: form-data; name=\"$name\"; filename=\"$name\"\r\n"
               . (defined $type ? "Content-Type: $type\r\n" : '') . "\r\n$value\r\n";
    }
    return ("$body--$b--\r\n", "multipart/form-data; boundary=$b");
}
# POST .../workers/assets/upload?base64=true, parts [[hash, bytes, type]]
sub bucket {
    my ($jwt, $parts, %o) = @_;
    my ($body, $ct) = multipart(map { [ $_->[0], $o{raw} ? $_->[1] : encode_base64($_->[1], ''), $_->[2] ] } @$parts);
    return api($t, POST => undef, raw_path => "/client/v4/accounts/$ACCOUNT/workers/assets/upload"
                   . ($o{raw} ? '' : '?base64=true'),
               content => $body, token => $jwt, headers => { 'Content-Type' => $ct });
}
sub deploy {
    my ($ns, $name, %meta) = @_;
    return curl_upload($t, $ns, $name,
        metadata => { main_module => 'worker.js', bindings => [{ type => 'assets', name => 'ASSETS' }], %meta },
        files    => [[ 'worker.js', 'worker.js', 'application/javascript+module', $WORKER ]]);
}
sub payload { my ($jwt) = @_; my $p = (split /\./, $jwt)[1] // ''; $p =~ tr/-_/+\//; return eval { $JSONC->decode(decode_base64($p)) } }
sub asset_keys { my ($ns, $name) = @_; return [ sort @{ $t->redis('KEYS', "dispatch:{$ns}:asset:$name:*") || [] } ] }
sub assets_field {
    my ($ns, $name) = @_;
    my $v = $t->redis('HGET', "dispatch:{$ns}:script:$name", 'assets');
    return defined $v ? $JSONC->decode($v) : undef;
}

# A whole flow: session, every bucket, upload; returns the files.
sub full_deploy {
    my ($ns, $name, $files, %meta) = @_;
    my $s = envelope_ok(session($ns, $name, manifest_of(%$files)), "session for $ns/$name");
    my %by_hash = map { $files->{$_}{hash} => [$files->{$_}{bytes}, $files->{$_}{type}] } keys %$files;
    my $jwt = $s && $s->{jwt};
    for my $b (@{ $s ? $s->{buckets} : [] }) {
        my $r = envelope_ok(bucket($s->{jwt}, [ map { [ $_, @{ $by_hash{$_} } ] } @$b ]), "a bucket of $ns/$name");
        $jwt = $r->{jwt} if $r && $r->{jwt};
    }
    return envelope_ok(deploy($ns, $name, assets => { jwt => $jwt, config => $meta{config} // {} }, %{ $meta{meta} || {} }),
                       "$ns/$name uploads with its assets");
}

my %site = (
    '/index.html'      => { %{ file("<h1>hello</h1>\n") }, type => 'text/html; charset=utf-8' },
    '/css/site.css'    => { %{ file("body { color: red }\n") }, type => 'text/css; charset=utf-8' },
    '/img/dot.png'     => { %{ file(join '', map { chr } 0 .. 255) }, type => 'image/png' },
    '/a/b c.js'        => { %{ file("console.log(1)\n") }, type => 'application/javascript' },
);

envelope_ok(api($t, POST => '', json => { name => 'shop' }), 'namespace shop');
envelope_ok(api($t, POST => '', json => { name => 'other' }), 'namespace other');

# --- the session answers a JWT-shaped token and buckets of every new hash
{
    my $s = envelope_ok(session('shop', 'site', manifest_of(%site)), 'POST .../scripts/site/assets-upload-session');
    like $s->{jwt} // '', qr/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'the token is JWT-shaped (base64url header.payload.signature)';
    my $p = payload($s->{jwt});
    ok $p && $p->{exp} > time + 3000 && $p->{exp} <= time + 3601, 'its payload has exp about an hour ahead (wrangler reads it)';
    is_deeply [ sort map { @$_ } @{ $s->{buckets} } ], [ sort map { $_->{hash} } values %site ],
        'the buckets hold every hash of a script with no assets yet';
}

# --- buckets hold at most 100 files and 8 MiB (a larger file alone)
{
    my $s = envelope_ok(session('shop', 'buckets', { map { ("/f$_" => { hash => md5_hex("f$_"), size => 10 }) } 1 .. 150 }),
                        'a session of 150 small files');
    is_deeply [ map { scalar @$_ } @{ $s->{buckets} } ], [100, 50], 'has buckets of 100 and 50';
    $s = envelope_ok(session('shop', 'buckets', { map { ("/m$_" => { hash => md5_hex("m$_"), size => 5 << 20 }) } 1 .. 3 }),
                     'a session of three 5 MiB files');
    is_deeply [ map { scalar @$_ } @{ $s->{buckets} } ], [1, 1, 1], 'has a bucket for each (two would pass 8 MiB)';
}

# --- a bucket carries the upload token, not the admin token; the last answers the completion token
my ($upload_jwt, $completion_jwt);
{
    my $s = envelope_ok(session('shop', 'site', manifest_of(%site)), 'a session');
    $upload_jwt = $s->{jwt};
    my @hashes = map { @$_ } @{ $s->{buckets} };
    my %by_hash = map { $_->{hash} => $_ } values %site;
    my $first = bucket($upload_jwt, [ [ $hashes[0], $by_hash{$hashes[0]}{bytes}, $by_hash{$hashes[0]}{type} ] ]);
    is $first->{status}, 202, 'a bucket while others are missing: 202';
    my $r = envelope_ok($first, 'the first bucket, with the upload token as the bearer');
    ok $r && !defined $r->{jwt}, 'with no completion token yet';
    my $last = bucket($upload_jwt, [ map { [ $_, $by_hash{$_}{bytes}, $by_hash{$_}{type} ] } @hashes[1 .. $#hashes] ]);
    is $last->{status}, 201, 'the last bucket: 201';
    $r = envelope_ok($last, 'the last bucket');
    $completion_jwt = $r && $r->{jwt};
    ok $completion_jwt && $completion_jwt ne $upload_jwt, 'answers a completion token, not the upload token';
}

# --- Redis holds each file's bytes and type
{
    my $png = $site{'/img/dot.png'};
    is $t->redis('HGET', "dispatch:{shop}:asset:site:$png->{hash}", 'body'), $png->{bytes}, 'the binary file is stored byte for byte (base64-decoded)';
    is $t->redis('HGET', "dispatch:{shop}:asset:site:$site{'/index.html'}{hash}", 'type'), 'text/html; charset=utf-8',
        'with the Content-Type its part gave, parameters and all';
    is scalar @{ asset_keys('shop', 'site') }, 4, 'one key per file';
}

# --- the refused tokens
{
    envelope_error(deploy('shop', 'site', assets => { jwt => $upload_jwt, config => {} }), 400, 'the upload token does not complete an upload');
    envelope_error(bucket($completion_jwt, [ [ $site{'/index.html'}{hash}, $site{'/index.html'}{bytes}, 'text/html' ] ]), 401,
                   'the completion token does not upload a bucket');
    my ($h, $p, $sig) = split /\./, $upload_jwt;
    envelope_error(bucket("$h.$p." . ('A' x 43), [ [ $site{'/index.html'}{hash}, $site{'/index.html'}{bytes} ] ]), 401,
                   'a forged token (right session, wrong secret) uploads nothing');
    envelope_error(bucket('not-a-token', [ [ $site{'/index.html'}{hash}, $site{'/index.html'}{bytes} ] ]), 401, 'a malformed token');
    envelope_error(bucket($TOKEN, [ [ $site{'/index.html'}{hash}, $site{'/index.html'}{bytes} ] ]), 401,
                   'the admin token is no upload session');
    envelope_error(api($t, GET => '', token => $upload_jwt), 403, 'the upload token calls nothing else of the API');
    my $up = "/client/v4/accounts/$ACCOUNT/workers/assets/upload";
    envelope_error(api($t, GET => undef, raw_path => $up, token => 'not-the-admin-token'), 403,
                   'a non-admin bearer is let through for POST only');
    envelope_error(api($t, POST => undef, raw_path => "$up/../../dispatch/namespaces", token => $upload_jwt, json => { name => 'x' }), 403,
                   'and for that path spelled exactly (not with more segments)');
    envelope_error(api($t, POST => undef, raw_path => "/client/v4/accounts/$ACCOUNT/workers/dispatch/namespaces", token => $upload_jwt,
                       json => { name => 'x' }), 403, 'nor a POST elsewhere');
    envelope_error(api($t, POST => '/shop/scripts/site/assets-upload-session', token => $upload_jwt, json => { manifest => {} }), 403,
                   'nor opens a session');
    # another namespace's session: its token names shop, the upload names other
    envelope_error(deploy('other', 'site', assets => { jwt => $completion_jwt, config => {} }), 400,
                   'a completion token of another namespace');
    envelope_error(deploy('shop', 'blog', assets => { jwt => $completion_jwt, config => {} }), 400,
                   'a completion token of another script');
}

# --- with a token configured, a bucket's bearer is checked before nginx reads a byte of its body
{
    my $s = envelope_ok(session('shop', 'early', { '/e.txt' => { hash => md5_hex('e'), size => 1 } }), 'a session');
    my ($h, $p) = split /\./, $s->{jwt};
    for my $case ([ 'a forged bearer', "$h.$p." . ('A' x 43) ], [ 'a bearer that is no token', 'guess' ]) {
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 5) or die "connect: $!";
        print {$sock} "POST /client/v4/accounts/$ACCOUNT/workers/assets/upload?base64=true HTTP/1.1\r\nHost: x\r\n"
                    . "Authorization: Bearer $case->[1]\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                    . "Content-Length: 15000000\r\n\r\n";
        my $got = '';
        my $t0 = time;
        while ($got !~ /\r\n\r\n/ && time - $t0 < 5) { sysread($sock, my $buf, 4096) or last; $got .= $buf }
        like $got, qr{^HTTP/1\.1 401 }, "$case->[0] with 15 MB announced and none sent: 401 at once";
        close $sock;
    }
}

# --- the upload with the completion token stores the manifest and the normalized config
{
    my $r = envelope_ok(deploy('shop', 'site', assets => { jwt => $completion_jwt, config => { html_handling => 'none' } }),
                        'PUT .../scripts/site with metadata.assets.jwt');
    is $r && JSON::PP::is_bool($r->{has_assets}) && $r->{has_assets} ? 1 : 0, 1, 'answers has_assets: true';
    is_deeply assets_field('shop', 'site'),
        { manifest => manifest_of(%site),
          config => { html_handling => 'none', not_found_handling => 'none', run_worker_first => JSON::PP::false } },
        'the script hash holds assets: the manifest and the config with its defaults filled in';
    my $got = envelope_ok(api($t, GET => '/shop/scripts/site'), 'GET .../scripts/site');
    ok script_of($got)->{has_assets}, 'the details say has_assets: true';
    my $list = envelope_ok(api($t, GET => '/shop/scripts'), 'GET .../scripts');
    ok((grep { $_->{id} eq 'site' && $_->{has_assets} } @{ $list || [] }), 'so does the list');
    my $sid = payload($completion_jwt)->{sid};
    is $t->redis('EXISTS', "dispatch:{shop}:assets-session:$sid"), 0, 'the session is used up';
    is $t->request(GET => '/t/shop/site')->{status}, 200, 'the script with an assets binding runs';
    envelope_error(deploy('shop', 'site', assets => { jwt => $completion_jwt, config => {} }), 400,
                   'the completion token replayed after its upload');
    envelope_error(bucket($upload_jwt, [ [ $site{'/index.html'}{hash}, $site{'/index.html'}{bytes}, 'text/html' ] ]), 401,
                   'nor does its upload token upload any more');
}

# --- a second session for the same files: nothing to upload, the token completes
{
    my $s = envelope_ok(session('shop', 'site', manifest_of(%site)), 'a session for files all stored');
    is_deeply $s && $s->{buckets}, [], 'has no bucket';
    is payload($s->{jwt})->{use}, 'completion', 'and its token is the completion token';
    envelope_ok(deploy('shop', 'site', assets => { jwt => $s->{jwt}, config => {} }), 'which uploads the script');
}

# --- an expired session's token uploads nothing
{
    my %one = ('/late.txt' => { %{ file("late") }, type => 'text/plain' });
    my $s = envelope_ok(session('shop', 'late', manifest_of(%one)), 'a session');
    my $sid = payload($s->{jwt})->{sid};
    is $t->redis('TTL', "dispatch:{shop}:assets-session:$sid") > 3500 ? 1 : 0, 1, 'its key expires in an hour';
    $t->redis('PEXPIRE', "dispatch:{shop}:assets-session:$sid", 1);
    select undef, undef, undef, 0.05;
    envelope_error(bucket($s->{jwt}, [ [ $one{'/late.txt'}{hash}, 'late', 'text/plain' ] ]), 401, 'a bucket once Redis expired the session');
    is_deeply asset_keys('shop', 'late'), [], 'stores nothing';
}

# --- PUT .../content keeps the assets; a bulk delete by tag deletes them
{
    my %one = ('/c.txt' => { %{ file("content") }, type => 'text/plain' });
    full_deploy('shop', 'tagged', \%one, meta => { tags => ['bulk'] });
    my ($body, $ct) = multipart([ 'metadata', '{"main_module":"worker.js"}', 'application/json' ],
                                [ 'worker.js', $WORKER, 'application/javascript+module' ]);
    envelope_ok(api($t, PUT => '/shop/scripts/tagged/content', content => $body, headers => { 'Content-Type' => $ct }),
                'PUT .../scripts/tagged/content');
    is_deeply assets_field('shop', 'tagged') && assets_field('shop', 'tagged')->{manifest}, manifest_of(%one),
        'new code keeps the assets field';
    is scalar @{ asset_keys('shop', 'tagged') }, 1, 'and the file';
    envelope_ok(api($t, DELETE => '/shop/scripts?tags=bulk:yes'), 'DELETE .../scripts?tags=bulk:yes');
    is_deeply [ grep { /tagged/ } @{ $t->redis('KEYS', 'dispatch:{shop}:*') } ], [], 'deletes its assets and index too';
}

# --- a bucket that does not match its session stores nothing
{
    my %one = ('/x.txt' => { %{ file("x" x 10) }, type => 'text/plain' });
    my $s = envelope_ok(session('shop', 'bad', manifest_of(%one)), 'a session of one file');
    my $before = redis_state($t);
    my $h = $one{'/x.txt'}{hash};
    envelope_error(bucket($s->{jwt}, [ [ md5_hex('other'), 'other' ] ]), 400, 'a part whose hash is not in the session');
    envelope_error(bucket($s->{jwt}, [ [ $h, 'x' x 9 ] ]), 400, 'a part whose size differs from the manifest');
    my ($body, $ct) = multipart([ $h, 'eHh4eHh4eHh4eA=!', 'text/plain' ]);
    envelope_error(api($t, POST => undef, raw_path => "/client/v4/accounts/$ACCOUNT/workers/assets/upload?base64=true",
                       content => $body, token => $s->{jwt}, headers => { 'Content-Type' => $ct }), 400, 'a part whose base64 is malformed');
    envelope_error(bucket($s->{jwt}, [ [ $h, 'x' x 10 ], [ md5_hex('other'), 'other' ] ]), 400,
                   'one bad part among good ones');
    envelope_error(bucket($s->{jwt}, [ [ $h, 'x' x 10, "text/plain\x01" ] ]), 400, 'a Content-Type with a control byte');
    envelope_error(bucket($s->{jwt}, [ [ $h, 'x' x 10, 'text/' . ('p' x 251) ] ]), 400, 'a Content-Type of 256 bytes');
    is_deeply redis_state($t), $before, 'none of them stored anything';
}

# --- the manifest's limits
{
    my $h = md5_hex('a');
    envelope_error(session('shop', 'lim', { map { ("/f$_" => { hash => $h, size => 1 }) } 1 .. 20001 }), 400,
                   'a manifest of 20,001 entries', qr/20000/);
    envelope_ok(session('shop', 'lim', { map { ("/f$_" => { hash => $h, size => 1 }) } 1 .. 20000 }), 'one of 20,000 entries');
    envelope_error(session('shop', 'lim', { '/big' => { hash => $h, size => 26214401 } }), 400, 'a file of 25 MiB + 1 byte');
    envelope_ok(session('shop', 'lim', { '/big' => { hash => $h, size => 26214400 } }), 'a file of 25 MiB');
    envelope_error(session('shop', 'lim', { '/a' => { hash => uc $h, size => 1 } }), 400, 'a hash in upper case');
    envelope_error(session('shop', 'lim', { '/a' => { hash => substr($h, 0, 31), size => 1 } }), 400, 'a hash of 31 digits');
    for my $path ('a', '/a/../b', '/a//b', '/./a', "/a\x01b", '/' . ('x' x 1024), '/a/', '/') {
        (my $shown = $path) =~ s/([^ -~])/sprintf '\\x%02x', ord $1/ge;
        envelope_error(session('shop', 'lim', { $path => { hash => $h, size => 1 } }), 400, "the path \"" . substr($shown, 0, 20) . "\"");
    }
    envelope_error(session('shop', 'lim', { '/a' => { hash => $h, size => 1 }, '/b' => { hash => $h, size => 2 } }), 400,
                   'one hash given two sizes');
    envelope_error(api($t, POST => '/shop/scripts/lim/assets-upload-session', content => '{"manifest":', headers => { 'Content-Type' => 'application/json' }),
                   400, 'a manifest that is not JSON');
}

# --- the config: invalid values are refused
{
    my %one = ('/i.html' => { %{ file("<p>") }, type => 'text/html' });
    my $s = envelope_ok(session('shop', 'cfg', manifest_of(%one)), 'a session');
    my $r = envelope_ok(bucket($s->{jwt}, [ [ $one{'/i.html'}{hash}, '<p>', 'text/html' ] ]), 'its bucket');
    envelope_error(deploy('shop', 'cfg', assets => { jwt => $r->{jwt}, config => { html_handling => 'sometimes' } }), 400,
                   'an html_handling Cloudflare does not have');
    envelope_error(deploy('shop', 'cfg', assets => { jwt => $r->{jwt}, config => { run_worker_first => ['api/*'] } }), 400,
                   'a run_worker_first rule not starting with / or !/');
    envelope_ok(deploy('shop', 'cfg', assets => { jwt => $r->{jwt},
                    config => { not_found_handling => 'single-page-application', run_worker_first => ['/api/*', '!/api/docs/*'] } }),
                'a valid config');
    is_deeply assets_field('shop', 'cfg')->{config},
        { html_handling => 'auto-trailing-slash', not_found_handling => 'single-page-application', run_worker_first => ['/api/*', '!/api/docs/*'] },
        'stored as given, defaults filled in';
}

# --- _redirects and _headers (wrangler sends their text in the config): kept as
# given, lines that are not rules told in messages, headers that are not HTTP refused
{
    my %one = ('/i.html' => { %{ file("<p>") }, type => 'text/html' });
    my $s = envelope_ok(session('shop', 'rules', manifest_of(%one)), 'a session');
    my $r = envelope_ok(bucket($s->{jwt}, [ [ $one{'/i.html'}{hash}, '<p>', 'text/html' ] ]), 'its bucket');
    my $jwt = $r->{jwt};
    envelope_error(deploy('shop', 'rules', assets => { jwt => $jwt, config => { _headers => "/*\n  X(Y): 1\n" } }), 400,
                   'a _headers name that is not an HTTP token', qr/_headers line 2/);
    envelope_error(deploy('shop', 'rules', assets => { jwt => $jwt, config => { _headers => "/*\n  X-Y: a\x01b\n" } }), 400,
                   'a _headers value with a control character');
    envelope_error(deploy('shop', 'rules', assets => { jwt => $jwt, config => { _redirects => ['/a /b'] } }), 400,
                   '_redirects that is not a string');
    is $t->redis('EXISTS', 'dispatch:{shop}:script:rules'), 0, 'none of them stored a script';
    my $redirects = "/t/shop/rules/old /new 301\n/bad\n/x /y 399\n";
    my $headers = "/t/*\n  X-Rule: yes\n  Content-Length: 1\n";
    my $up = deploy('shop', 'rules', assets => { jwt => $jwt, config => { _redirects => $redirects, _headers => $headers } });
    envelope_ok($up, 'an upload with both files');
    is_deeply [ map { $_->{message} } @{ $up->{json}{messages} || [] } ],
        [ '_redirects line 2: expected 2 or 3 whitespace-separated tokens, got 1 (skipped)',
          '_redirects line 3: valid statuses are 200, 301, 302 (the default), 303, 307 and 308 (skipped)',
          '_headers line 3: content-length is set by the server (skipped)' ],
        'its messages tell each line skipped';
    my $config = assets_field('shop', 'rules')->{config};
    is_deeply [ $config->{_redirects}, $config->{_headers} ], [ $redirects, $headers ], 'the texts are stored as given';
    my $g = $t->request(GET => '/t/shop/rules/old?q=1');
    is join(' ', $g->{status}, $g->{headers}{location} // '-', $g->{headers}{'x-rule'} // '-'), '301 /new?q=1 yes',
        'and served: the redirect, with the header block';
}

# --- keep_assets keeps them; an upload without assets drops them
{
    my %one = ('/k.txt' => { %{ file("keep me") }, type => 'text/plain' });
    full_deploy('shop', 'keep', \%one);
    envelope_ok(deploy('shop', 'keep', keep_assets => JSON::PP::true), 'an upload with keep_assets: true');
    is_deeply assets_field('shop', 'keep') && assets_field('shop', 'keep')->{manifest}, manifest_of(%one), 'keeps the manifest';
    is scalar @{ asset_keys('shop', 'keep') }, 1, 'and the file';
    envelope_ok(deploy('shop', 'keep'), 'an upload with neither assets nor keep_assets');
    is assets_field('shop', 'keep'), undef, 'has no assets field';
    is_deeply asset_keys('shop', 'keep'), [], 'and its files are deleted';
}

# --- a new version uploads only what changed and removes what it dropped
{
    my %v1 = ('/same.txt' => { %{ file("same") }, type => 'text/plain' }, '/old.txt' => { %{ file("old") }, type => 'text/plain' });
    full_deploy('shop', 'ver', \%v1);
    my %v2 = ('/same.txt' => $v1{'/same.txt'}, '/new.txt' => { %{ file("new") }, type => 'text/plain' });
    my $s = envelope_ok(session('shop', 'ver', manifest_of(%v2)), 'the second version\'s session');
    is_deeply $s->{buckets}, [[ $v2{'/new.txt'}{hash} ]], 'asks only for the new file';
    my $r = envelope_ok(bucket($s->{jwt}, [ [ $v2{'/new.txt'}{hash}, 'new', 'text/plain' ] ]), 'its bucket');
    envelope_ok(deploy('shop', 'ver', assets => { jwt => $r->{jwt} }), 'the second version uploads');
    is_deeply asset_keys('shop', 'ver'), [ sort map { "dispatch:{shop}:asset:ver:$_->{hash}" } values %v2 ],
        'the dropped file\'s key is deleted, the others stay';
}

# --- an open session keeps its files through another version's upload
{
    my %a = ('/a.txt' => { %{ file("session a") }, type => 'text/plain' });
    my %b = ('/b.txt' => { %{ file("session b") }, type => 'text/plain' });
    my $sa = envelope_ok(session('shop', 'race', manifest_of(%a)), 'session A');
    my $ra = envelope_ok(bucket($sa->{jwt}, [ [ $a{'/a.txt'}{hash}, 'session a', 'text/plain' ] ]), 'A\'s bucket');
    full_deploy('shop', 'race', \%b);
    ok $t->redis('EXISTS', "dispatch:{shop}:asset:race:$a{'/a.txt'}{hash}"), 'B\'s upload keeps the file of the open session A';
    envelope_ok(deploy('shop', 'race', assets => { jwt => $ra->{jwt} }), 'A completes after B');
    is_deeply asset_keys('shop', 'race'), [ "dispatch:{shop}:asset:race:$a{'/a.txt'}{hash}" ], 'and then B\'s file goes';
}

# --- an assets-only upload (no main module; wrangler without `main`)
{
    my %one = ('/only.html' => { %{ file("<p>only</p>") }, type => 'text/html' });
    my $s = envelope_ok(session('shop', 'static', manifest_of(%one)), 'a session of an assets-only script');
    my $r = envelope_ok(bucket($s->{jwt}, [ [ $one{'/only.html'}{hash}, '<p>only</p>', 'text/html' ] ]), 'its bucket');
    my $up = curl_upload($t, 'shop', 'static', metadata => { assets => { jwt => $r->{jwt}, config => {} } }, files => []);
    envelope_ok($up, 'a metadata-only upload with assets');
    is_deeply assets_field('shop', 'static')->{manifest}, manifest_of(%one), 'stores its assets';
}

# --- deleting a script deletes its assets and sessions
{
    my %one = ('/d.txt' => { %{ file("doomed") }, type => 'text/plain' });
    full_deploy('shop', 'doomed', \%one);
    envelope_ok(session('shop', 'doomed', manifest_of(%one, '/e.txt' => file('e'))), 'an open session');
    envelope_ok(api($t, DELETE => '/shop/scripts/doomed'), 'DELETE .../scripts/doomed');
    is_deeply [ grep { /doomed/ } @{ $t->redis('KEYS', 'dispatch:{shop}:*') } ], [], 'no key of it is left (assets, index, sessions)';
}

# --- a rename that fails midway (Redis reaches maxmemory while copying the
# assets): it answers an error, the old namespace stays whole, nothing of the
# copy stays under the new name
{
    envelope_ok(api($t, POST => '', json => { name => 'full' }), 'namespace full');
    my %two = ('/1.bin' => { %{ file('1' x (3 << 20)) }, type => 'application/octet-stream' },
               '/2.bin' => { %{ file('2' x (3 << 20)) }, type => 'application/octet-stream' });
    full_deploy('full', 'app', \%two);
    # what Redis holds once the buckets' query buffers are given back
    # (it shrinks an idle client's buffer after 2 s)
    Time::HiRes::sleep(3);
    my ($used) = ($t->redis('INFO', 'memory') // '') =~ /used_memory:(\d+)/;
    $t->redis('CONFIG', 'SET', 'maxmemory', $used + (1 << 20));
    my $r = api($t, PUT => '/full', json => { name => 'moved' });
    $t->redis('CONFIG', 'SET', 'maxmemory', 0);
    envelope_error($r, 503, 'the rename fails');
    is_deeply [ map { $t->redis('HSTRLEN', "dispatch:{full}:asset:app:$two{$_}{hash}", 'body') } sort keys %two ],
        [ 3 << 20, 3 << 20 ], 'the old namespace keeps its files';
    is $t->redis('EXISTS', 'dispatch:{full}:script:app'), 1, 'and its script';
    is_deeply [ sort @{ $t->redis('KEYS', 'dispatch:{moved}:*') || [] } ], [], 'nothing is left under the new name';
    is $t->redis('SISMEMBER', 'dispatch:namespaces', 'moved'), 0, 'which is not listed';
}

# --- a rename moves the assets; a namespace delete deletes them
{
    my %one = ('/r.txt' => { %{ file("renamed") }, type => 'text/plain' });
    envelope_ok(api($t, POST => '', json => { name => 'before' }), 'namespace before');
    full_deploy('before', 'app', \%one);
    envelope_ok(api($t, PUT => '/before', json => { name => 'after' }), 'rename before to after');
    is $t->redis('HGET', "dispatch:{after}:asset:app:$one{'/r.txt'}{hash}", 'body'), 'renamed', 'the asset is under the new name';
    is_deeply assets_field('after', 'app')->{manifest}, manifest_of(%one), 'with the manifest';
    is_deeply $t->redis('KEYS', 'dispatch:{before}:*'), [], 'nothing is left under the old name';
    envelope_ok(deploy('after', 'app', keep_assets => JSON::PP::true), 'an upload with keep_assets after the rename');
    is $t->redis('HGET', "dispatch:{after}:asset:app:$one{'/r.txt'}{hash}", 'body'), 'renamed', 'keeps the moved file';
    envelope_ok(api($t, DELETE => '/after'), 'delete namespace after');
    is_deeply $t->redis('KEYS', 'dispatch:{after}:*'), [], 'its assets went with it';
}

$t->stop;

# --- without dispatch_admin token= (loopback): the same flow
{
    my $t2 = Dispatch::Test->new(server => q{
        location /client/v4/ {
            client_max_body_size 40m;
            dispatch_admin;
        }
    });
    local $t = $t2;
    my %one = ('/l.txt' => { %{ file("loopback") }, type => 'text/plain' });
    my $s = envelope_ok(session('lo', 'app', manifest_of(%one), token => undef), 'a session without a token');
    my $r = envelope_ok(bucket($s->{jwt}, [ [ $one{'/l.txt'}{hash}, 'loopback', 'text/plain' ] ]), 'a bucket with the upload token');
    envelope_error(bucket('x.y.z', [ [ $one{'/l.txt'}{hash}, 'loopback', 'text/plain' ] ]), 401, 'a bucket with no session\'s token');
    envelope_ok(curl_upload($t, 'lo', 'app', token => undef,
        metadata => { main_module => 'worker.js', assets => { jwt => $r->{jwt} } },
        files    => [[ 'worker.js', 'worker.js', 'application/javascript+module', $WORKER ]]), 'the upload completes');
    is $t->redis('HGET', "dispatch:{lo}:asset:app:$one{'/l.txt'}{hash}", 'body'), 'loopback', 'the file is stored';

    # the largest file, 25 MiB, alone in its bucket: under client_max_body_size 40m (README)
    my $big = join '', map { chr(($_ * 31) % 251) } 0 .. 65535;
    $big = substr($big x 400, 0, 26214400);
    my $h = md5_hex($big);
    my $sb = envelope_ok(session('lo', 'big', { '/big.bin' => { hash => $h, size => length $big } }, token => undef),
                         'a session of a 25 MiB file');
    is_deeply $sb->{buckets}, [[ $h ]], 'which goes alone in its bucket';
    my $rb = envelope_ok(bucket($sb->{jwt}, [ [ $h, $big, 'application/octet-stream' ] ]), 'its bucket (34 MiB of base64) under 40m');
    is $t->redis('HSTRLEN', "dispatch:{lo}:asset:app:$h" =~ s/app/big/r, 'body'), 26214400, 'stores all 26,214,400 bytes';
    $t->stop;
}

# --- a deploy with keep_assets racing one with new assets: the second's
# cleanup deletes the files only the first version named; the keep_assets
# deploy, which read the `assets` field before it, must not write that old
# manifest back (it would name deleted files). Its top level runs ~1.5 s
# (the scratch isolate), the other deploy goes through the other worker
# meanwhile.
{
    local $t = admin_server(http => q{ dispatch_startup_cpu_limit 30s; });
    envelope_ok(api($t, POST => '', json => { name => 'race' }), 'namespace race');
    my %v1 = ('/one.txt' => { %{ file("one\n") }, type => 'text/plain' });
    my %v2 = ('/two.txt' => { %{ file("two\n") }, type => 'text/plain' });
    full_deploy('race', 'app', \%v1);
    my $s = envelope_ok(session('race', 'app', manifest_of(%v2)), 'a session for the next version');
    my $b = envelope_ok(bucket($s->{jwt}, [ [ $v2{'/two.txt'}{hash}, "two\n", 'text/plain' ] ]), 'its bucket');
    my $slow = "let x = 0; for (let i = 0; i < 1.5e9; i++) x = (x + i) | 0;\n"
             . "export default { fetch() { return new Response(String(x)); } };\n";
    my $report = $t->prefix . "/keep-deploy";
    my $t0 = time;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = curl_upload($t, 'race', 'app',
            metadata => { main_module => 'worker.js', keep_assets => JSON::PP::true,
                          bindings => [{ type => 'assets', name => 'ASSETS' }] },
            files    => [[ 'worker.js', 'worker.js', 'application/javascript+module', $slow ]]);
        write_file($report, sprintf("%d %.3f", $r->{status}, time - $t0));
        POSIX::_exit(0);
    }
    Time::HiRes::sleep(0.5);
    envelope_ok(deploy('race', 'app', assets => { jwt => $b->{jwt}, config => {} }), 'a deploy with new assets meanwhile');
    my $new_done = time - $t0;
    waitpid $pid, 0;
    my ($status, $keep_done) = split ' ', (eval { local (@ARGV, $/) = ($report); <> } // '0 0');
    is $status, 200, 'the keep_assets deploy succeeds';
    cmp_ok $keep_done, '>', $new_done, 'and ends after the other (they raced)';
    my $m = assets_field('race', 'app')->{manifest};
    is_deeply [ sort keys %$m ], ['/two.txt'], 'the manifest stored is the newer version\'s';
    is_deeply [ grep { !$t->redis('EXISTS', "dispatch:{race}:asset:app:$m->{$_}{hash}") } sort keys %$m ], [],
        'and names no deleted file';
    $t->stop;
}

done_testing;
