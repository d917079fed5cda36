#!/usr/bin/perl
# nginx hygiene: `nginx -s reload` (HUP) under continuous requests fails none
# of them; the old workers finish what they have in flight and exit; twenty
# reloads leak no file descriptor, thread or memory in the master, and leave
# exactly the configured workers, each with one subscription to
# dispatch:events.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use POSIX ();
use Time::HiRes qw(time sleep);

my $LOC = q{
    location ~ ^/t/(?<script>[^/]*) {
        add_header X-Worker $pid always;
        dispatch tenants $script;
    }
};
my $t = Dispatch::Test->new(workers => 2, server => $LOC);

for my $name (qw(a b)) {
    $t->put_script('tenants', $name, qq{
        let n = 0;
        export default { fetch() { n++; return new Response('$name\\n'); } };
    });
}
ok $t->every_worker_says('/t/a', 200, "a\n"), 'both workers serve';

# --- three reloads under continuous requests
{
    my $flag = $t->prefix . '/keep-going';
    open my $f, '>', $flag or die $!;
    close $f;
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        close $rd;
        $wr->autoflush(1);
        my $i = 0;
        while (-e $flag) {
            my @reqs = map { +{ path => '/t/' . (($i + $_) % 2 ? 'a' : 'b') } } 1 .. 8;
            $i++;
            my @res = $t->parallel(\@reqs, timeout => 20);
            for my $k (0 .. $#reqs) {
                my ($want) = $reqs[$k]{path} =~ m{/t/(\w)};
                my $r = $res[$k];
                my $c = $r->{content};
                $c =~ s/\n/\\n/g;
                print {$wr} ($r->{status} == 200 && $r->{content} eq "$want\n" ? "ok\n" : "FAIL $r->{status} $c\n");
            }
        }
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;
    sleep 0.3;
    my $reloads = 0;
    for (1 .. 3) {
        eval { $t->reload; $reloads++; 1 } or diag "reload: $@";
        sleep 0.3;
    }
    unlink $flag;
    my @lines = <$rd>;
    close $rd;
    waitpid $pid, 0;
    is $reloads, 3, 'three reloads done while requests kept coming';
    cmp_ok scalar(@lines), '>=', 50, 'requests ran throughout (' . scalar(@lines) . ')';
    my @failed = grep { !/^ok$/ } @lines;
    is scalar(@failed), 0, 'not one request failed during the reloads'
        or diag join '', @failed[0 .. ($#failed < 9 ? $#failed : 9)];
}

# --- the old workers exit
{
    ok $t->every_worker_says('/t/a', 200, "a\n"), 'both workers serve (V8 and Redis in use)';
    my @old = $t->worker_pids;
    $t->reload;
    my @new = $t->worker_pids;
    is scalar(@new), 2, 'a reload starts 2 new workers';
    ok !(grep { my $o = $_; grep { $_ == $o } @new } @old), 'none of them is an old one';
    ok $t->wait_for(sub { !grep { kill 0, $_ } @old }, timeout => 10),
        'the old workers exit within seconds';
    ok $t->every_worker_says('/t/b', 200, "b\n"), 'the new workers serve';
}

# --- twenty reloads: no leak in the master, no worker left behind
{
    my $m = $t->nginx_pid;
    ok $t->wait_for(sub { $t->nginx_children == 2 }, timeout => 10), 'only the 2 workers before';
    my ($fd0, $rss0, $thr0) = ($t->fd_count($m), $t->rss_kb($m), $t->thread_count($m));
    my %old;
    for my $i (1 .. 20) {
        $old{$_} = 1 for $t->worker_pids;
        my @res = $t->parallel([ map { +{ path => '/t/a' } } 1 .. 6 ]);
        my $ok = grep { $_->{status} == 200 } @res;
        $ok == 6 or diag "before reload $i: only $ok of 6 requests answered 200";
        $t->reload;
    }
    ok $t->wait_for(sub { !grep { kill 0, $_ } keys %old }, timeout => 15),
        'every one of the ' . scalar(keys %old) . ' old workers exited';
    is scalar(my @kids = $t->nginx_children), 2, 'the master has exactly the 2 configured workers';
    is $t->fd_count($m), $fd0, "the master holds as many file descriptors as before ($fd0)";
    is $t->thread_count($m), $thr0, "and as many threads ($thr0)";
    my $grown = ($t->rss_kb($m) - $rss0) / 1024;
    cmp_ok $grown, '<', 20, sprintf('its memory grew by less than 20 MB (%.1f MB)', $grown);
    ok $t->every_worker_says('/t/b', 200, "b\n"), 'both workers serve after 20 reloads';
    ok $t->wait_for(sub { $t->publish('tenants', 'nothing-here') == 2 }, timeout => 10),
        'and exactly one subscription to dispatch:events per live worker is left';
}

# --- a request in flight during a reload is finished by its old worker
{
    $t->reload(server => $LOC . q{
        location ~ ^/w/(?<script>[^/]*) { dispatch_wall_limit 1s; dispatch tenants $script; }
    });
    $t->put_script('tenants', 'hang', q{
        export default { fetch() { return new Promise(() => {}); } };
    });
    is $t->get('/w/a')->{status}, 200, 'the new location serves';
    my @old = $t->worker_pids;
    my $h = $t->send_request({ path => '/w/hang' });
    sleep 0.3;
    $t->reload;
    my $r = $t->read_response($h, timeout => 15);
    is $r->{status}, 504, 'a request in flight across a reload is answered by its old worker (504 at its wall limit)';
    is $r->{content}, "exceeded_wall\n", 'named exceeded_wall, not cut off';
    cmp_ok $r->{elapsed}, '>=', 0.95, 'after the full wall limit';
    ok $t->wait_for(sub { !grep { kill 0, $_ } @old }, timeout => 10), 'then the old workers exit';
}

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
