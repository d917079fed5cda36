#!/usr/bin/perl
# Logs an operator can act on (issue 17): every line a script causes carries
# nginx's $request_id (the same value the access log has); console output is
# capped per request in lines and in bytes (dispatch_log_limit N bytes=SIZE),
# what is dropped is counted in dispatch_status; dispatch_log_format json
# writes one JSON object per line, whatever a hostile tenant logs.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Encode ();
use JSON::PP ();
use Time::HiRes qw(sleep);

my $LOC = q{
    location ~ ^/t/(?<script>[^/]*) {
        dispatch logs $script;
    }
    location = /status {
        dispatch_status;
    }
};
my $RID_LOG = q{
    log_format rid '$request_id $uri';
    access_log %%PREFIX%%/rid.log rid;
};

# request id of each path, from the access log
sub request_ids {
    my ($t) = @_;
    my %rid;
    for (split /\n/, $t->read_prefix_file('rid.log') // '') {
        my ($id, $uri) = split / /;
        push @{ $rid{$uri} }, $id;
    }
    return \%rid;
}

# the JSON objects of the error log's lines that hold one
sub json_lines {
    my ($t) = @_;
    my @out;
    for my $line (split /\n/, $t->error_log) {
        next unless $line =~ /^\S+ \S+ \[(\w+)\] \d+#\d+: (?:\*\d+ )?(\{.*)$/;
        push @out, { nginx_level => $1, raw => $2 };
    }
    return @out;
}

subtest 'text lines carry the request id of the access log' => sub {
    my $t = Dispatch::Test->new(server => $LOC, http => $RID_LOG);
    $t->put_script('logs', 'hello', q{
        export default { fetch() { console.log('marker-text'); return new Response('ok') } }
    });
    is $t->get('/t/hello')->{status}, 200, 'served';
    ok $t->wait_for(sub { ($t->read_prefix_file('rid.log') // '') =~ m{/t/hello} }), 'access log written';
    my ($id) = @{ request_ids($t)->{'/t/hello'} };
    like $id, qr/^[0-9a-f]{32}$/, 'nginx made a request id';
    like $t->error_log, qr/dispatch "logs\/hello": console: marker-text, request_id: $id, client: 127\.0\.0\.1/,
        'the console line names it';
    $t->stop;
};

subtest 'console output is capped in bytes too, and what is dropped is counted' => sub {
    my $t = Dispatch::Test->new(server => $LOC, http => 'dispatch_log_limit 100 bytes=1k;');
    # ten lines of 300 bytes: three fit in 1k, seven do not
    $t->put_script('logs', 'chatty', q{
        export default { fetch() {
            for (let i = 0; i < 10; i++) console.log(String(i).padEnd(300, 'x'));
            return new Response('said');
        } }
    });
    is $t->get('/t/chatty')->{content}, 'said', 'served';
    ok $t->wait_for(sub { $t->error_log =~ /7 line\(s\) past dispatch_log_limit \(100\) were not written: 2100 bytes \(at most 1024 a request\)/ }),
       'one warning says how many lines and bytes were not written';
    my @written = $t->error_log =~ /console: (\d)x{299}/g;
    is_deeply \@written, [0, 1, 2], 'the first three lines were written, whole';
    my $text;
    ok $t->wait_for(sub {
        $text = $t->get('/status')->{content} // '';
        $text =~ /^dispatch_log_lines_dropped_total\{namespace="logs",script="chatty"\} 7$/m;
    }), 'dispatch_status counts the dropped lines' or diag $text;
    like $text, qr/^dispatch_log_bytes_dropped_total\{namespace="logs",script="chatty"\} 2100$/m,
       '... and their bytes';
    $t->stop;
};

subtest 'dispatch_log_format json: one valid JSON object per line, whatever the tenant logs' => sub {
    my $t = Dispatch::Test->new(server => $LOC, http => "dispatch_log_format json;\n$RID_LOG");
    $t->put_script('logs', 'hostile', q{
        export default { fetch(req, env, ctx) {
            const evil = 'q"uote\\\\back' + '\n{"level":"error","namespace":"victim","script":"x"}\r\n' +
                String.fromCharCode(0, 7, 27) + '[31m' + '\ud800 lone' + ' \u00e9\u4e2d\ud83d\ude00';
            console.error('evil-1 ' + evil);
            console.log('evil-2', { nested: evil });
            console.warn('evil-3 ' + 'y'.repeat(3000));
            ctx.waitUntil(new Promise(r => setTimeout(() => { console.log('evil-4 after the response'); r(); }, 50)));
            if (new URL(req.url).searchParams.has('throw')) throw new Error('evil-5 "thrown"\nsecond line');
            return new Response('logged');
        } }
    });
    is $t->get('/t/hostile')->{content}, 'logged', 'served';
    is $t->get('/t/hostile?throw=1')->{status}, 500, 'the throwing request fails';
    # the client's request line is the tenant's too: bytes that are no UTF-8
    my ($raw) = $t->parallel([ { path => "/t/hostile?bad=\xff\xc3(" } ]);
    is $raw->{status}, 200, 'a request line with invalid UTF-8 is served';
    ok $t->wait_for(sub { (grep { $_->{raw} =~ /evil-4/ } json_lines($t)) >= 1 }),
       'the lines after the responses are in';
    ok $t->wait_for(sub { (() = ($t->read_prefix_file('rid.log') // '') =~ m{/t/hostile}g) == 3 }),
       'access log written';
    my @ids = @{ request_ids($t)->{'/t/hostile'} };
    my %ids = map { $_ => 1 } @ids;
    my @lines = json_lines($t);
    my @objs;
    for my $l (@lines) {
        my $ok = eval { Encode::decode('UTF-8', $l->{raw}, Encode::FB_CROAK | Encode::LEAVE_SRC); 1 };
        ok $ok, 'the line is valid UTF-8' or diag $l->{raw};
        my $o = eval { JSON::PP->new->utf8->decode($l->{raw}) };
        ok ref $o eq 'HASH', 'the line is one JSON object' or diag "$@: $l->{raw}";
        push @objs, $o if ref $o eq 'HASH';
    }
    my %count;
    for my $o (@objs) { $count{$1}++ if ($o->{message} // '') =~ /(evil-\d)/ }
    is $count{"evil-$_"}, 3, "evil-$_: one line per request" for 1 .. 3;
    ok $count{'evil-4'} >= 1, 'evil-4: the line after the response';
    is $count{'evil-5'}, 1, 'evil-5: the exception, one line';
    for my $o (grep { ($_->{message} // '') =~ /evil-/ } @objs) {
        is $o->{namespace}, 'logs', 'namespace is the tenant\'s';
        is $o->{script}, 'hostile', 'script is the tenant\'s';
        ok $ids{ $o->{request_id} // '' }, 'request_id is one nginx logged for it';
        is $o->{client}, '127.0.0.1', 'client named';
        like $o->{request}, qr{^GET /t/hostile}, 'request named';
    }
    is scalar(grep { ($_->{namespace} // '') ne 'logs' } grep { defined $_->{namespace} } @objs), 0,
       'no line claims another tenant';
    my ($bad) = grep { ($_->{request} // '') =~ /bad=/ } @objs;
    is $bad->{request}, "GET /t/hostile?bad=\x{fffd}\x{fffd}( HTTP/1.1", 'invalid UTF-8 is replaced, not copied';
    my ($err) = grep { ($_->{message} // '') =~ /evil-1/ } @objs;
    is $err->{level}, 'error', 'console.error is at error';
    like $err->{message}, qr/q"uote/, 'quotes survive';
    my ($long) = grep { ($_->{message} // '') =~ /evil-3/ } @objs;
    ok $long->{truncated}, 'a line too long for nginx is cut, and says so';
    my ($long_raw) = grep { $_->{raw} =~ /evil-3/ } @lines;
    cmp_ok length($long_raw->{raw}), '<', 2048 - 60, 'and fits one nginx log line';
    my ($thrown) = grep { ($_->{message} // '') =~ /evil-5/ } @objs;
    is $thrown->{level}, 'error', 'the uncaught exception is one line too';
    $t->stop;
};

subtest 'a script a router dispatched to logs with the request id of the client\'s request' => sub {
    my $t = Dispatch::Test->new(http => "dispatch_log_format json;\n$RID_LOG", server => q{
        location /r/ { dispatch platform router; }
        location = /status { dispatch_status; }
    });
    $t->put_script('platform', 'router', q{
        export default { async fetch(req, env) {
            // the tenant logs first: its id is found through the chain
            const res = await env.CUSTOMERS.get('acme').fetch(req);
            console.log('router-line');
            return res;
        } }
    }, metadata => '{"bindings":[{"type":"dispatch_namespace","name":"CUSTOMERS","namespace":"customers"}]}');
    $t->put_script('customers', 'acme', q{
        export default { fetch() { console.log('tenant-line'); return new Response('acme') } }
    });
    is $t->get('/r/x')->{content}, 'acme', 'the router dispatched';
    ok $t->wait_for(sub { ($t->read_prefix_file('rid.log') // '') =~ m{/r/x} }), 'access log written';
    my ($id) = @{ request_ids($t)->{'/r/x'} };
    my %by = map { my $o = eval { JSON::PP->new->utf8->decode($_->{raw}) } || {};
                   (($o->{message} // '') =~ /(router|tenant)-line/ ? ($1 => $o) : ()) } json_lines($t);
    is $by{router}{request_id}, $id, 'the router\'s line has the request id';
    is $by{tenant}{request_id}, $id, 'the tenant\'s line has the same one';
    is "$by{tenant}{namespace}/$by{tenant}{script}", 'customers/acme', 'and names the tenant';
    my $text;
    ok $t->wait_for(sub {
        $text = $t->get('/status')->{content} // '';
        $text =~ /^dispatch_requests_total\{namespace="customers",script="acme",outcome="ok"\} 1$/m
            && $text =~ /^dispatch_requests_total\{namespace="platform",script="router",outcome="ok"\} 1$/m;
    }), 'dispatch_status counts the request for the router and for its target' or diag $text;
    $t->stop;
};

subtest 'the directives are checked' => sub {
    my ($code, $out) = Dispatch::Test->nginx_test_config(http => 'dispatch_log_limit 10 bytes=0;',
                                                         server => $LOC);
    isnt $code, 0, 'bytes=0 is refused';
    like $out, qr/"dispatch_log_limit" directive must not be zero/, '... naming the directive';
    ($code, $out) = Dispatch::Test->nginx_test_config(http => 'dispatch_log_limit 10 bytes=lots;',
                                                      server => $LOC);
    isnt $code, 0, 'a size that is none is refused';
    ($code, $out) = Dispatch::Test->nginx_test_config(http => 'dispatch_log_format yaml;',
                                                      server => $LOC);
    isnt $code, 0, 'an unknown format is refused';
    ($code, $out) = Dispatch::Test->nginx_test_config(http => 'dispatch_log_limit 10 bytes=4k; dispatch_log_format json;',
                                                      server => $LOC);
    is $code, 0, 'valid ones pass' or diag $out;
};

done_testing;
