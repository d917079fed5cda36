#!/usr/bin/perl
# dispatch_status (issue 17): the metrics of every worker process, summed in
# the module's shared-memory zone. With 2 workers, the request totals by
# outcome equal what was sent, for several tenants, once a flush (at most
# a second) has passed; the Prometheus text exposition (0.0.4) parses with
# a strict parser and its histograms hold together; ?format=json says the
# same; a client's junk names make no series of their own; counters survive
# a reload (the zone does) and never go down.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP ();
use Time::HiRes qw(sleep);

my $LOC = q{
    location ~ ^/t/(?<ns>[^/]*)/(?<script>[^/]*) {
        dispatch $ns $script;
    }
    location = /status {
        allow 127.0.0.1;
        deny all;
        dispatch_status;
    }
};

# --- a small strict parser of the text format 0.0.4 -----------------------
# Returns { families => {name => type}, samples => [[name, {labels}, value]] }
# or dies naming the first line it refuses.
sub parse_prometheus {
    my ($text) = @_;
    my (%type, %help, @samples, %seen);
    my $name_re  = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
    my $value_re = qr/(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)/;
    die "does not end in a newline\n" unless $text =~ /\n\z/;
    my $n = 0;
    for my $line (split /\n/, $text) {
        $n++;
        if ($line =~ /^# HELP ($name_re) (.*)$/) {
            die "line $n: second HELP for $1\n" if $help{$1}++;
            next;
        }
        if ($line =~ /^# TYPE ($name_re) (counter|gauge|histogram|summary|untyped)$/) {
            die "line $n: second TYPE for $1\n" if exists $type{$1};
            $type{$1} = $2;
            next;
        }
        die "line $n: a comment that is neither HELP nor TYPE: $line\n" if $line =~ /^#/;
        die "line $n: an empty line\n" if $line eq '';
        $line =~ /^($name_re)(?:\{(.*)\})? ($value_re)$/ or die "line $n: not a sample: $line\n";
        my ($name, $labels, $value) = ($1, $2, $3);
        my %l;
        if (defined $labels) {
            my $rest = $labels;
            while (length $rest) {
                $rest =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)//
                    or die "line $n: bad labels: {$labels}\n";
                my ($k, $v) = ($1, $2);
                die "line $n: label $k twice\n" if exists $l{$k};
                $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
                $l{$k} = $v;
            }
        }
        (my $family = $name) =~ s/_(?:bucket|sum|count)$// if !exists $type{$name};
        $family = $name if exists $type{$name};
        die "line $n: sample of $name before its TYPE\n" unless exists $type{$family};
        die "line $n: a counter not named *_total: $name\n"
            if $type{$family} eq 'counter' && $name !~ /_total$/;
        my $key = join "\0", $name, map { "$_=$l{$_}" } sort keys %l;
        die "line $n: the same series twice: $line\n" if $seen{$key}++;
        push @samples, [$name, \%l, $value];
    }
    return { families => \%type, samples => \@samples };
}

sub status { my ($t) = @_; my $r = $t->get('/status'); return $r->{status} == 200 ? $r->{content} : undef }

sub sum_of {
    my ($parsed, $name, %want) = @_;
    my $sum = 0;
    for my $s (@{ $parsed->{samples} }) {
        next unless $s->[0] eq $name;
        next if grep { !defined $s->[1]{$_} || $s->[1]{$_} ne $want{$_} } keys %want;
        $sum += $s->[2];
    }
    return $sum;
}

my $t = Dispatch::Test->new(workers => 2, server => $LOC);

$t->put_script('shop', 'ok', q{export default { fetch() { return new Response('fine') } }});
$t->put_script('shop', 'thrower', q{export default { fetch() { throw new Error('nope') } }});
$t->put_script('shop', 'spin', q{export default { fetch() { for (;;) {} } }});
$t->put_script('blog', 'kv', q{
    export default { async fetch(req, env) {
        await env.STORE.put('k', 'twelve bytes');
        return new Response(await env.STORE.get('k'));
    } }
}, metadata => '{"bindings":[{"type":"kv_namespace","name":"STORE","namespace_id":"store1"}]}');

# a script that does not exist (blog/missing) has no series of its own:
# its 404s are counted in namespace="*",script="*" (t/76-attack-findings-10)
my %sent = ('shop/ok' => { ok => 30 }, 'shop/thrower' => { exception => 20 },
            'blog/kv' => { ok => 10 }, '*/*' => { not_found => 7 },
            'shop/spin' => { exceeded_cpu => 1 });
my @reqs;
for my $key (sort keys %sent) {
    my ($n) = values %{ $sent{$key} };
    my $path = $key eq '*/*' ? 'blog/missing' : $key;
    push @reqs, map { +{ path => "/t/$path" } } 1 .. $n;
}
my @res = $t->parallel(\@reqs, timeout => 60);
is scalar(grep { $_->{status} == 200 } @res), 40, 'the requests were answered (40 of them 200)';

my $parsed;
my $totals_match = sub {
    my $text = status($t) // return 0;
    $parsed = eval { parse_prometheus($text) } or return 0;
    for my $key (keys %sent) {
        my ($ns, $script) = split m{/}, $key;
        my ($outcome, $n) = %{ $sent{$key} };
        return 0 unless sum_of($parsed, 'dispatch_requests_total',
                               namespace => $ns, script => $script, outcome => $outcome) == $n;
    }
    return 1;
};
ok $t->wait_for($totals_match, timeout => 10),
   'after a flush, the totals by outcome equal the requests sent, for each tenant across both workers'
    or diag status($t);

subtest 'the text format parses strictly and holds together' => sub {
    my $text = status($t);
    my $p = eval { parse_prometheus($text) };
    ok $p, 'it parses' or diag $@;
    return unless $p;
    is $p->{families}{dispatch_requests_total}, 'counter', 'requests are a counter';
    is $p->{families}{dispatch_request_duration_seconds}, 'histogram', 'wall time is a histogram';
    is $p->{families}{dispatch_worker_isolates}, 'gauge', 'live isolates are a gauge';
    # every histogram: buckets cumulative, +Inf equal to _count
    my %buckets;
    for my $s (@{ $p->{samples} }) {
        next unless $s->[0] eq 'dispatch_request_duration_seconds_bucket';
        push @{ $buckets{"$s->[1]{namespace}/$s->[1]{script}"} }, [$s->[1]{le}, $s->[2]];
    }
    ok scalar(keys %buckets) >= 4, 'a histogram per script';
    for my $k (sort keys %buckets) {
        my @b = @{ $buckets{$k} };
        my @v = map { $_->[1] } @b;
        is_deeply [ @v ], [ sort { $a <=> $b } @v ], "$k: buckets are cumulative";
        is $b[-1][0], '+Inf', "$k: the last bucket is +Inf";
        my ($ns, $script) = split m{/}, $k;
        is $b[-1][1], sum_of($p, 'dispatch_request_duration_seconds_count', namespace => $ns, script => $script),
           "$k: +Inf equals _count";
        is $b[-1][1], sum_of($p, 'dispatch_requests_total', namespace => $ns, script => $script),
           "$k: _count equals its requests";
    }
    is sum_of($p, 'dispatch_kv_operations_total', namespace => 'blog', script => 'kv'), 20,
       'KV operations of blog/kv: a put and a get per request';
    is sum_of($p, 'dispatch_kv_bytes_total', namespace => 'blog', script => 'kv'), 240,
       'KV bytes of blog/kv: twelve written and twelve read per request';
    is sum_of($p, 'dispatch_response_bytes_total', namespace => 'shop', script => 'ok'), 120,
       'response bytes of shop/ok: four per request';
    cmp_ok sum_of($p, 'dispatch_cpu_seconds_total', namespace => 'shop', script => 'ok'), '>', 0,
       'CPU time is counted';
    my $created = sum_of($p, 'dispatch_isolate_creations_total', namespace => 'shop', script => 'ok');
    ok $created >= 1 && $created <= 2, 'shop/ok: one isolate per worker that served it';
    is sum_of($p, 'dispatch_worker_isolate_creations_total'),
       sum_of($p, 'dispatch_isolate_creations_total'), 'isolate creations: per worker and per script agree';
    my %workers = map { $_->[1]{worker} => 1 } grep { $_->[0] eq 'dispatch_worker_isolates' } @{ $p->{samples} };
    is_deeply [ sort keys %workers ], [ 0, 1 ], 'a series per worker, labelled by worker number';
    is sum_of($p, 'dispatch_worker_redis_connected'), 2, 'both workers are connected to Redis';
    is sum_of($p, 'dispatch_worker_script_cache_total', result => 'miss')
       + sum_of($p, 'dispatch_worker_script_cache_total', result => 'hit'),
       68, 'every request was a hit or a miss of the script cache';
    cmp_ok sum_of($p, 'dispatch_worker_isolate_retirements_total', reason => 'limit'), '>=', 1,
       'the spinning script\'s isolate was retired for its limit';
    cmp_ok sum_of($p, 'dispatch_worker_script_cache_total', result => 'miss'), '>=', 8,
       'each worker missed each script at first (or joined a load)';
    cmp_ok sum_of($p, 'dispatch_worker_redis_commands_total'), '>=', 4, 'Redis commands are counted';
};

subtest 'the JSON form parses and says the same' => sub {
    my $r = $t->get('/status?format=json');
    is $r->{status}, 200, 'served';
    like $r->{headers}{'content-type'}, qr{^application/json}, 'as JSON';
    my $j = eval { JSON::PP->new->decode($r->{content}) };
    ok $j, 'it parses' or diag $@;
    return unless $j;
    my %by = map { ("$_->{namespace}/$_->{script}" => $_) } @{ $j->{scripts} };
    for my $key (sort keys %sent) {
        my ($outcome, $n) = %{ $sent{$key} };
        is $by{$key}{requests}{$outcome}, $n, "$key: $n $outcome";
    }
    is scalar(@{ $j->{workers} }), 2, 'two workers';
    is $r = $t->get('/status?format=yaml')->{status}, 400, 'an unknown format is refused';
};

subtest 'a client cannot make series out of junk names' => sub {
    my $before = status($t);
    $t->get('/t/shop/%22%7D%20evil');
    $t->get('/t/shop/' . ('x' x 80));
    $t->get('/t/BAD/ok');
    sleep 1.3;
    my $text = status($t);
    my $p = eval { parse_prometheus($text) };
    ok $p, 'still parses' or diag $@;
    unlike $text, qr/evil|xxxxxxxx|BAD/, 'no such label value appears';
};

subtest 'counters survive a reload and never go down' => sub {
    my $p0 = parse_prometheus(status($t));
    my $ok0 = sum_of($p0, 'dispatch_requests_total', namespace => 'shop', script => 'ok', outcome => 'ok');
    # requests in flight across the reload: the old workers flush when they exit
    $t->parallel([ map { +{ path => '/t/shop/ok' } } 1 .. 10 ]);
    $t->reload;
    $t->parallel([ map { +{ path => '/t/shop/ok' } } 1 .. 10 ]);
    my $now;
    ok $t->wait_for(sub {
        $now = sum_of(parse_prometheus(status($t)), 'dispatch_requests_total',
                      namespace => 'shop', script => 'ok', outcome => 'ok');
        $now == $ok0 + 20;
    }, timeout => 10), 'the old workers\' counts and the new ones\' add up in the zone'
        or diag "before $ok0, now $now";
    my $p = parse_prometheus(status($t));
    my @down;
    for my $s (@{ $p0->{samples} }) {
        my ($name, $l, $v) = @$s;
        next unless $name =~ /_total$/;
        my $after = sum_of($p, $name, %$l);
        push @down, "$name\{" . join(',', map { "$_=$l->{$_}" } sort keys %$l) . "} $v -> $after"
            if $after < $v;
    }
    is_deeply \@down, [], 'no counter went down across the reload';
    is sum_of($p, 'dispatch_worker_redis_connected'), 2,
       'the gauges are the new workers\' (the old ones cleared theirs)';
};

subtest 'a worker that is killed loses at most its last second; nothing goes down' => sub {
    $t->parallel([ map { +{ path => '/t/shop/ok' } } 1 .. 10 ]);
    sleep 1.5;    # flushed
    my $p0 = parse_prometheus(status($t));
    my $ok0 = sum_of($p0, 'dispatch_requests_total', namespace => 'shop', script => 'ok', outcome => 'ok');
    my ($victim) = $t->worker_pids;
    kill 'KILL', $victim;
    ok $t->wait_for(sub { my @w = $t->worker_pids; @w == 2 && !grep { $_ == $victim } @w }),
       'nginx started another worker';
    $t->parallel([ map { +{ path => '/t/shop/ok' } } 1 .. 10 ]);
    ok $t->wait_for(sub {
        sum_of(parse_prometheus(status($t)), 'dispatch_requests_total',
               namespace => 'shop', script => 'ok', outcome => 'ok') == $ok0 + 10;
    }, timeout => 10), 'the counts go on from where they were';
    my $p = parse_prometheus(status($t));
    my @down = grep { $_->[0] =~ /_total$/ && sum_of($p, $_->[0], %{ $_->[1] }) < $_->[2] } @{ $p0->{samples} };
    is scalar(@down), 0, 'no counter went down';
};

$t->stop;

# --- cardinality: a small zone and 2000 scripts ---------------------------
subtest 'a small zone bounds the series and folds the rest into their namespace' => sub {
    my $t2 = Dispatch::Test->new(workers => 2, server => $LOC,
                                 http => 'dispatch_quarantine_zone small:64k; dispatch_isolates 16;');
    my $N = 2000;
    for my $i (1 .. $N) {
        $t2->redis('HSET', "dispatch:{many}:script:s$i", 'code',
                   qq{export default { fetch() { return new Response('$i') } }});
    }
    my @r = $t2->parallel([ map { +{ path => "/t/many/s$_" } } 1 .. $N ], timeout => 300, concurrency => 20);
    is scalar(grep { $_->{status} == 200 } @r), $N, "$N scripts answered";
    my $p;
    ok $t2->wait_for(sub {
        $p = eval { parse_prometheus(status($t2)) } or return 0;
        sum_of($p, 'dispatch_requests_total', outcome => 'ok') == $N;
    }, timeout => 10), 'the totals over all series still add up to the requests sent';
    my $max = sum_of($p, 'dispatch_status_script_series_max');
    my @own = grep { $_->[0] eq 'dispatch_requests_total' && $_->[1]{script} ne '*' } @{ $p->{samples} };
    ok $max > 0 && $max < 100, "a 64k zone holds at most $max scripts' series";
    cmp_ok scalar(@own), '<=', $max, 'no more scripts have series of their own';
    is sum_of($p, 'dispatch_status_script_series'), scalar(@own), 'as the zone says';
    my $folded = sum_of($p, 'dispatch_requests_total', namespace => 'many', script => '*', outcome => 'ok');
    is $folded + scalar(@own), $N, 'the rest are in the namespace\'s fold, script="*"';
    cmp_ok sum_of($p, 'dispatch_status_folds_total'), '>', 0, 'the folds are counted';
    # every isolate made is live or was retired; with dispatch_isolates 16, most by LRU
    is sum_of($p, 'dispatch_worker_isolate_creations_total'),
       sum_of($p, 'dispatch_worker_isolates') + sum_of($p, 'dispatch_worker_isolate_retirements_total'),
       'isolates created = live + retired';
    cmp_ok sum_of($p, 'dispatch_worker_isolate_retirements_total', reason => 'lru'), '>=', $N - 2 * 16,
       'retired by dispatch_isolates (reason="lru")';
    $t2->stop;
};

done_testing;
