#!/usr/bin/perl
# Issue 20: dispatch_landlock on [DIR ...] confines where a worker that runs
# tenant code may create, write, rename or remove files: the directories of
# its logs, its temp paths, the directories named, and /dev/null. Shown with
# nginx's own WebDAV PUT (a write by the worker, as an escaped tenant would
# attempt one) into a directory any user may write to: refused with Landlock,
# done without it; into a named directory, done. Tenants are served, request
# bodies go through temp files, and USR1 reopens the logs, all under it.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use File::Temp qw(tempdir);

# A directory outside the prefix that every user may write to: only
# Landlock can keep a worker (user nobody) out of it.
my $outside = tempdir('dispatch-landlock-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0777, $outside;
my $named = tempdir('dispatch-landlock-named-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0777, $named;

sub server_with {
    my ($landlock) = @_;
    return Dispatch::Test->new(
        workers => 1,
        http    => "dispatch_landlock $landlock;",
        server  => qq{
            location /t/ { dispatch tenants hello; }
            location /outside/ { alias $outside/; dav_methods PUT; }
            location /named/ { alias $named/; dav_methods PUT; }
        });
}

my $t = server_with("on $named");
$t->put_script('tenants', 'hello', q{
    export default { async fetch(req) { console.log('landlock-line ' + new URL(req.url).search);
                                        return new Response('hello ' + new Intl.DateTimeFormat('en', { timeZone: 'UTC' }).format(0)) } };
});

is $t->get('/t/')->{content}, 'hello 1/1/1970', 'a tenant is served under Landlock (V8, ICU data read)';

{
    my $r = $t->request('PUT', '/outside/planted.txt', content => 'x' x 20000);
    is $r->{status}, 500, 'a worker cannot write a file outside its paths (WebDAV PUT: 500)';
    ok !-e "$outside/planted.txt", 'and no file appeared there';
    like $t->error_log, qr/planted\.txt.*failed \(13: Permission denied\)|failed \(13: Permission denied\).*planted\.txt/,
        'the error log says permission denied';
}
{
    my $r = $t->request('PUT', '/named/kept.txt', content => 'y' x 20000);
    is $r->{status}, 201, 'a directory named in dispatch_landlock is writable (the body went through a temp file)';
    is -s "$named/kept.txt", 20000, 'with the whole body';
}
{
    my $log = $t->prefix . '/error.log';
    rename $log, "$log.old" or die "rename: $!";
    kill 'USR1', $t->nginx_pid;
    my $seen = $t->wait_for(sub { $t->get('/t/?after-usr1'); -e $log && $t->error_log =~ /landlock-line \?after-usr1/ },
                            timeout => 10);
    ok $seen, 'USR1: the worker writes into the reopened error.log';
}
my ($w) = $t->worker_pids;
like do { local $/; open my $f, '<', "/proc/$w/status"; <$f> }, qr/^Seccomp:\s+2$/m,
    'the seccomp filter is there too';
$t->stop;

# --- without it the same PUT is done: Landlock is what refused it
{
    my $off = server_with('off');
    is $off->request('PUT', '/outside/planted.txt', content => 'x')->{status}, 201,
       'with dispatch_landlock off the same write is done';
    ok -e "$outside/planted.txt", 'and the file is there';
    $off->stop;
}

my ($code, $out) = Dispatch::Test->nginx_test_config(http => 'dispatch_landlock maybe;',
                                                     server => 'location / { dispatch a b; }');
isnt $code, 0, 'nginx -t refuses dispatch_landlock other than on or off';
like $out, qr/invalid value "maybe" in "dispatch_landlock": on or off/, 'saying so';

done_testing;
