#!/usr/bin/perl
# Issue 20: every worker that runs tenant code runs under a seccomp filter
# (dispatch_seccomp, on by default) with no_new_privs, installed after
# start-up; the master is not filtered. Under it nothing a worker does is
# lost: uploads through the management API, KV, outbound fetch(), console
# lines into a log reopened by USR1, a reload (HUP) whose new workers are
# filtered in turn. `dispatch_seccomp off` leaves workers unfiltered. What
# the filter refuses is shown by tests/test_seccomp.c, in forked children.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use Dispatch::TestUpstream;
use Time::HiRes qw(sleep);

# "Seccomp" and "NoNewPrivs" of /proc/PID/status
sub proc_status {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return {};
    my %s = map { /^(\w+):\s*(\S+)/ ? ($1 => $2) : () } <$fh>;
    return \%s;
}

sub all_filtered {
    my ($t) = @_;
    my @w = $t->worker_pids;
    return @w && !grep { my $s = proc_status($_); ($s->{Seccomp} // '') ne '2' || ($s->{NoNewPrivs} // '') ne '1' } @w;
}

my $up = Dispatch::TestUpstream->new;
my $t = admin_server(http => 'dispatch_fetch_allow 127.0.0.1/32;');

# --- the filter is on in every worker, not in the master
{
    ok all_filtered($t), 'every worker shows "Seccomp: 2" and "NoNewPrivs: 1" in /proc/PID/status'
        or diag explain { map { $_ => proc_status($_) } $t->worker_pids };
    is proc_status($t->nginx_pid)->{Seccomp}, '0', 'the master is not filtered (it reloads and upgrades)';
}

# --- an upload, KV, fetch() and console under the filter
my $upstream = $up->url('/status/201');
my $code = <<"JS";
export default {
  async fetch(request, env) {
    await env.KV.put('k', 'stored');
    const got = await env.KV.get('k');
    const res = await fetch('$upstream');
    console.log('seccomp-line ' + new URL(request.url).searchParams.get('n'));
    return new Response(got + ' ' + res.status + ' ' + (await res.text()));
  }
};
JS
{
    envelope_ok(api($t, POST => '', json => { name => 'sec' }), 'a namespace is created under the filter');
    envelope_ok(curl_upload($t, 'sec', 'all',
        metadata => { main_module => 'worker.js',
                      bindings => [{ type => 'kv_namespace', name => 'KV', namespace_id => 'kv1' }] },
        files => [[ 'worker.js', 'worker.js', 'application/javascript+module', $code ]]),
        'a script is uploaded (compiled in a scratch isolate) under the filter');
    ok $t->every_worker_says('/t/sec/all?n=1', 200, 'stored 201 status body'),
        'every worker serves it: KV put and get, and fetch() of an upstream';
    like $t->error_log, qr/seccomp-line 1/, 'console lines reach the error log';
}

# --- log reopening (USR1): the workers write into the new file
{
    my $log = $t->prefix . '/error.log';
    my @before = $t->worker_pids;
    rename $log, "$log.old" or die "rename: $!";
    kill 'USR1', $t->nginx_pid;
    ok $t->wait_for(sub { -e $log }), 'USR1: the master reopens error.log';
    my $seen = $t->wait_for(sub {
        $t->get('/t/sec/all?n=after-usr1');
        $t->error_log =~ /seccomp-line after-usr1/;
    }, timeout => 10);
    ok $seen, 'a worker writes its console line into the reopened error.log';
    is_deeply [ $t->worker_pids ], \@before, 'no worker died reopening its logs';
    unlike $t->error_log, qr/\[(alert|crit|emerg)\]/, 'and none complained';
}

# --- reload (HUP): new workers, filtered in turn, serve
{
    my %old = map { $_ => 1 } $t->worker_pids;
    ok eval { $t->reload; 1 }, 'HUP reloads' or diag $@;
    ok !grep({ $old{$_} } $t->worker_pids), 'with new workers';
    ok all_filtered($t), 'each of them filtered';
    ok $t->every_worker_says('/t/sec/all?n=2', 200, 'stored 201 status body'), 'and serving KV and fetch()';
}

# --- dispatch_seccomp off
{
    my $off = Dispatch::Test->new(workers => 1, http => 'dispatch_seccomp off;',
                                  server => 'location / { dispatch tenants hello; }');
    $off->put_script('tenants', 'hello', 'export default { fetch() { return new Response("hi") } };');
    is $off->get('/')->{content}, 'hi', 'with dispatch_seccomp off the worker serves';
    my ($w) = $off->worker_pids;
    is proc_status($w)->{Seccomp}, '0', 'unfiltered ("Seccomp: 0")';
    $off->stop;
}

my ($c, $out) = Dispatch::Test->nginx_test_config(http => 'dispatch_seccomp maybe;',
                                                  server => 'location / { dispatch a b; }');
isnt $c, 0, 'nginx -t refuses dispatch_seccomp other than on or off';

$up->stop;
$t->stop;
done_testing;
