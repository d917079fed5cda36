#!/usr/bin/perl
# 200 concurrent requests over 10 tenants with 2 workers: every answer is
# right, each from its own tenant, and the workers survive.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    workers => 2,
    http    => q{
        map $host $tenant {
            ~^(?<name>[a-z0-9_-]+)\.example\.com$  $name;
            default                                "";
        }
    },
    server => q{ location / { dispatch load $tenant; } },
);

my @tenants = map { "tenant$_" } 0 .. 9;
for my $name (@tenants) {
    $t->put_script('load', $name, qq{
        let served = 0;
        export default {
          async fetch(request) {
            served++;
            const body = await request.text();
            await Promise.resolve();
            return new Response('$name:' + new URL(request.url).searchParams.get('i') + ':' + body);
          }
        };
    });
}

my @workers = sort $t->worker_pids;
is scalar(@workers), 2, 'two workers';

my @requests;
for my $i (0 .. 199) {
    my $name = $tenants[$i % 10];
    push @requests, { method => 'POST', path => "/?i=$i", host => "$name.example.com",
                      content => "body$i" };
}
my @responses = $t->parallel(\@requests, concurrency => 200);

my ($ok, @wrong) = (0);
for my $i (0 .. 199) {
    my $name = $tenants[$i % 10];
    my $want = "$name:$i:body$i";
    if ($responses[$i]{status} == 200 && $responses[$i]{content} eq $want) {
        $ok++;
    } else {
        push @wrong, "#$i: $responses[$i]{status} '$responses[$i]{content}' (want '$want')";
    }
}
is $ok, 200, 'all 200 concurrent requests answered by the right tenant'
    or diag join "\n", @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)];

# a second wave, now that every isolate exists
@responses = $t->parallel(\@requests, concurrency => 200);
is scalar(grep { $_->{status} == 200 } @responses), 200, 'a second wave is answered too';

is_deeply [sort $t->worker_pids], \@workers, 'the same worker processes are alive';
is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
