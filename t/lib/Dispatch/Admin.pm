package Dispatch::Admin;

# Helpers for the management API's tests (t/70-*.t and up): a server with
# the API under /client/v4/ (as CLOUDFLARE_API_BASE_URL expects) and tenants
# served at /t/NS/NAME, calls that decode Cloudflare's envelope, curl
# uploads, a snapshot of everything the API may write in Redis, and where
# scripts/setup-deps installed the npm clients.

use strict;
use warnings;

use Exporter 'import';
use File::Path qw(make_path);
use File::Spec;
use File::Temp qw(tempdir);
use JSON::PP ();
use POSIX ();
use Test::More ();
use Dispatch::Test;

our @EXPORT = qw(admin_server apps_server api api_path curl_upload envelope_ok envelope_error
                 script_of redis_state npm_dir npm_tool_or_skip wrangler_dry_run wrangler_dry_runs wrangler_against node_json_in
                 upload_apps write_file
                 $TOKEN $ACCOUNT);

our $TOKEN   = 'test-token-0123456789';
our $ACCOUNT = 'acc0123';
our $JSON    = JSON::PP->new->canonical->utf8->allow_nonref;

# The API at /client/v4/ (with a token) and tenants at /t/NS/NAME; X-Worker
# names the worker process that answered (see ask_every_worker).
sub admin_server {
    my (%args) = @_;
    my $extra = delete $args{server} // '';
    return Dispatch::Test->new(
        workers => 2,
        server  => qq{
            location /client/v4/ {
                client_max_body_size 20m;
                dispatch_admin token=$TOKEN;
            }
            location ~ ^/t/(?<ns>[^/]+)/(?<script>[^/]+) {
                add_header X-Worker \$pid always;
                dispatch \$ns \$script;
            }
            $extra
        },
        %args);
}

# The API at /client/v4/ and each script of namespace `apps` at its own
# host name, APP.test (or at any host with ?app=APP), so that routers see
# the paths their docs use; `http` adds to the http block.
sub apps_server {
    my (%args) = @_;
    my $http = delete $args{http} // '';
    return Dispatch::Test->new(
        http   => ' map $http_host $app { ~^(?<name>[a-z0-9-]+)\.test(:|$) $name; default $arg_app; } ' . $http,
        server => qq{
            location /client/v4/ {
                client_max_body_size 20m;
                dispatch_admin token=$TOKEN;
            }
            location / {
                dispatch_cpu_limit 2s;
                dispatch apps \$app;
            }
        },
        %args);
}

# "/client/v4/accounts/ACCOUNT/workers/dispatch/namespaces" . $rest
sub api_path {
    my ($rest) = @_;
    return "/client/v4/accounts/$ACCOUNT/workers/dispatch/namespaces" . ($rest // '');
}

# One call: api($t, METHOD, REST, json => DATA | content => BYTES,
# headers => {...}, token => TOKEN or undef for none). REST is what follows
# .../namespaces. Returns the HTTP::Tiny response with `json` (the decoded
# envelope, or undef) added.
sub api {
    my ($t, $method, $rest, %o) = @_;
    my %h = %{ $o{headers} || {} };
    my $token = exists $o{token} ? $o{token} : $TOKEN;
    $h{Authorization} = "Bearer $token" if defined $token;
    my $content = $o{content};
    if (exists $o{json}) {
        $content = $JSON->encode($o{json});
        $h{'Content-Type'} //= 'application/json';
    }
    my $r = $t->request($method, $o{raw_path} // api_path($rest),
                        headers => \%h, (defined $content ? (content => $content) : ()),
                        timeout => $o{timeout} // 20);
    $r->{json} = eval { $JSON->decode($r->{content}) };
    return $r;
}

# A 2xx answer in Cloudflare's envelope, success true, no errors
sub envelope_ok {
    my ($r, $name) = @_;
    my $e = $r->{json};
    my $ok = $r->{status} =~ /^2/ && ref $e eq 'HASH'
        && JSON::PP::is_bool($e->{success}) && $e->{success}
        && ref $e->{errors} eq 'ARRAY' && !@{ $e->{errors} }
        && ref $e->{messages} eq 'ARRAY' && exists $e->{result}
        && ($r->{headers}{'content-type'} // '') =~ m{^application/json};
    Test::More::ok($ok, "$name: $r->{status} with success true in Cloudflare's envelope")
        or Test::More::diag("got $r->{status} " . ($r->{headers}{'content-type'} // '-') . " "
                            . substr($r->{content} // '', 0, 600));
    return $ok ? $e->{result} : undef;
}

# A failure: STATUS (or one of [STATUS, ...]), success false, errors with a
# numeric code and a message (matching $re when given). Returns the first error.
sub envelope_error {
    my ($r, $status, $name, $re) = @_;
    my @want = ref $status ? @$status : ($status);
    my $e = $r->{json};
    my $err = ref $e eq 'HASH' && ref $e->{errors} eq 'ARRAY' ? $e->{errors}[0] : undef;
    my $ok = (grep { $r->{status} == $_ } @want)
        && ref $e eq 'HASH' && JSON::PP::is_bool($e->{success}) && !$e->{success}
        && ref $err eq 'HASH' && defined $err->{code} && !ref $err->{code}
        && $err->{code} =~ /^[1-9][0-9]*$/ && JSON::PP->new->encode([$err->{code}]) !~ /"/
        && defined $err->{message} && length $err->{message}
        && ref $e->{messages} eq 'ARRAY'
        && (!$re || $err->{message} =~ $re);
    Test::More::ok($ok, "$name: " . join(' or ', @want) . " with success false and a numbered error"
                   . ($re ? " matching $re" : ''))
        or Test::More::diag("got $r->{status} " . substr($r->{content} // '', 0, 600));
    return $err;
}

# The script object of a details answer: Cloudflare's Workers for Platforms
# "get script" nests it under `script` (the SDK's type); the upload answers
# the script object itself.
sub script_of {
    my ($result) = @_;
    return ref $result eq 'HASH' && ref $result->{script} eq 'HASH' ? $result->{script} : $result;
}

# curl_upload($t, NS, NAME, metadata => HASH or JSON text,
#             files => [[PART, FILENAME, TYPE, CONTENT], ...],
#             metadata_as_file => 1, token => ...)
# The upload of Cloudflare's documentation, with curl -F. Returns what api()
# returns (status, content, json).
sub curl_upload {
    my ($t, $ns, $name, %o) = @_;
    my $dir = tempdir('dispatch-upload-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $meta = ref $o{metadata} ? $JSON->encode($o{metadata}) : $o{metadata};
    my @args = ('--path-as-is', '-X', 'PUT', '-o', "$dir/out", '-w', '%{http_code}');
    my $token = exists $o{token} ? $o{token} : $TOKEN;
    push @args, '-H', "Authorization: Bearer $token" if defined $token;
    if (defined $meta) {
        if ($o{metadata_as_file}) {
            write_file("$dir/metadata.json", $meta);
            push @args, '-F', "metadata=\@$dir/metadata.json;type=application/json";
        } else {
            push @args, '-F', "metadata=$meta;type=application/json";
        }
    }
    my $i = 0;
    for my $f (@{ $o{files} || [] }) {
        my ($part, $filename, $type, $content) = @$f;
        my $file = "$dir/f" . $i++;
        write_file($file, $content);
        push @args, '-F', "$part=\@$file;filename=$filename;type=$type";
    }
    my ($code, $rc) = $t->curl(@args, $t->url(api_path("/$ns/scripts/$name")));
    my $body = do { local $/; open my $fh, '<', "$dir/out" or return { status => 599, content => "curl $rc" }; binmode $fh; <$fh> };
    my $r = { status => 0 + ($code || 599), content => $body, headers => { 'content-type' => 'application/json' } };
    $r->{json} = eval { $JSON->decode($body) };
    return $r;
}

# CONTENT into FILE, its directories made as needed.
sub write_file {
    my ($file, $content) = @_;
    (my $dir = $file) =~ s{/[^/]+$}{};
    make_path($dir) if $dir ne $file && !-d $dir;
    open my $fh, '>', $file or die "Dispatch::Admin: $file: $!";
    binmode $fh;
    print {$fh} $content;
    close $fh;
}

# Every dispatch:* key with its type and DUMP (the exact bytes Redis holds):
# compare two with is_deeply to show that nothing changed.
sub redis_state {
    my ($t) = @_;
    my %state;
    my $keys = $t->redis('KEYS', 'dispatch:*') || [];
    for my $k (sort @$keys) {
        $state{$k} = $t->redis('TYPE', $k) . ' ' . unpack('H*', $t->redis('DUMP', $k) // '');
    }
    return \%state;
}

# Where scripts/setup-deps installed wrangler and the SDK
sub npm_dir {
    return $ENV{DISPATCH_NPM_DIR}
        || File::Spec->catdir($ENV{XDG_CACHE_HOME} || "$ENV{HOME}/.cache", 'ngx_dispatch', 'npm');
}

# The path of node_modules/REL in npm_dir, or skip_all with what to run.
sub npm_tool_or_skip {
    my ($rel) = @_;
    my $path = File::Spec->catfile(npm_dir(), 'node_modules', $rel);
    return $path if -e $path;
    Test::More::plan(skip_all => "$path is not installed: scripts/setup-deps installs the pinned "
        . "npm clients (t/clients/package-lock.json) into " . npm_dir()
        . " (Node.js 20.3 or later and the npm registry needed)");
}

# `wrangler deploy --dry-run --outdir out` in DIR, where wrangler.toml is:
# wrangler bundles the worker as it would for an upload, into DIR/out. HOME
# is DIR (no login, no metrics); at most TIMEOUT s (default 60). Returns
# wrangler's exit status and its output.
sub wrangler_dry_run {
    my ($wrangler, $dir, $timeout) = @_;
    return @{ (wrangler_dry_runs($wrangler, [$dir], $timeout))[0] };
}

# The same in each of DIRS at once; returns [status, output] for each.
sub wrangler_dry_runs {
    my ($wrangler, $dirs, $timeout) = @_;
    my @running;
    for my $dir (@$dirs) {
        my $pid = open(my $fh, '-|') // die "fork: $!";
        if (!$pid) {
            chdir $dir or die "$dir: $!";
            open STDERR, '>&', \*STDOUT;
            %ENV = (PATH => $ENV{PATH}, HOME => $dir, XDG_CONFIG_HOME => "$dir/config",
                    WRANGLER_SEND_METRICS => 'false', WRANGLER_LOG_PATH => "$dir/logs",
                    NO_COLOR => '1', CI => 'true');
            { no warnings 'exec'; exec 'timeout', $timeout // 60, $wrangler, 'deploy', '--dry-run', '--outdir', 'out' }
            POSIX::_exit(127);
        }
        push @running, $fh;
    }
    return map {
        my $fh = $_;
        my $out = do { local $/; <$fh> } // '';
        close $fh;
        [$? >> 8, $out];
    } @running;
}

# `wrangler ARGS...` in DIR against T's management API (t/71's settings:
# CLOUDFLARE_API_BASE_URL, the account and token), at most 60 s; returns
# wrangler's exit status and its output.
sub wrangler_against {
    my ($wrangler, $t, $dir, @args) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        chdir $dir or die "$dir: $!";
        open STDERR, '>&', \*STDOUT;
        %ENV = (PATH => $ENV{PATH}, HOME => $dir, XDG_CONFIG_HOME => "$dir/config", CI => 'true', NO_COLOR => '1',
                CLOUDFLARE_API_BASE_URL => $t->url('/client/v4'), CLOUDFLARE_ACCOUNT_ID => $ACCOUNT,
                CLOUDFLARE_API_TOKEN => $TOKEN, WRANGLER_SEND_METRICS => 'false', WRANGLER_LOG_PATH => "$dir/logs");
        { no warnings 'exec'; exec 'timeout', 60, $wrangler, @args }
        POSIX::_exit(127);
    }
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    return ($? >> 8, $out);
}

# What Node.js answers running CODE (an ES module) in DIR (an app's project
# directory: its own src/ files and the same node_modules), as JSON; a test
# names APP when node fails.
sub node_json_in {
    my ($dir, $app, $code) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    write_file("$dir/expected.mjs", $code);
    my $out = `cd $dir && node --no-warnings expected.mjs 2>expected.err`;
    Test::More::is($?, 0, "node computes the expected answers for $app")
        or Test::More::diag($out, `cat $dir/expected.err`);
    return eval { $JSON->decode($out) } // { unparsed => $out };
}

# Uploads each app of APPS (name => {meta, flags}) into namespace NS as
# wrangler would: BUNDLES->{name} as index.js, beside it the modules wrangler
# wrote (MODULES->{name}{path}: .wasm as application/wasm, .js and .mjs as
# ES modules, others as data); one envelope_ok each.
sub upload_apps {
    my ($t, $ns, $date, $apps, $bundles, $modules) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    for my $name (sort keys %$apps) {
        my $o = $apps->{$name};
        my $extra = ($modules || {})->{$name} || {};
        envelope_ok(curl_upload($t, $ns, $name,
            metadata => { main_module => 'index.js', compatibility_date => $date, %{ $o->{meta} || {} },
                          ($o->{flags} ? (compatibility_flags => $o->{flags}) : ()) },
            files => [[ 'index.js', 'index.js', 'application/javascript+module', $bundles->{$name} ],
                      map { [ $_, $_, /\.wasm$/ ? 'application/wasm' : /\.m?js$/ ? 'application/javascript+module'
                                  : 'application/octet-stream', $extra->{$_} ] }
                          sort keys %$extra]),
            "$name uploads");
    }
}

1;
