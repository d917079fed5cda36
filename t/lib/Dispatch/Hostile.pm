package Dispatch::Hostile;

# Helpers for the hostile-tenant suites (t/40-*.t and up): one case = one
# tenant script doing one hostile thing, one request read raw off the wire,
# and the three things every case asserts:
#   (a) the answer: one of the (status, body) pairs the contract allows;
#   (b) no worker died: the worker PIDs are the ones from before the case and
#       the error log gained no alert, crit, emerg or "exited on signal";
#   (c) a good tenant (another script) answers 200 right after.
# Cases are independent: each uses its own script (a fresh isolate), checks
# liveness against its own start, and every read is bounded, so one crash or
# hang fails that case only. A file's cases together get a time budget
# (t/40: 100 s, t/41: 60 s, t/42: 40 s), so that the suite ends within about
# four minutes even when every request hangs; a case left without time fails.

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use Test::More ();
use Time::HiRes qw(time);
use Dispatch::Test;

our @EXPORT = qw(hostile_server hostile_case raw_request wire_ok answer_in
                 survived time_left);

our $LOC = q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } };

our $GOOD_JS = q{
    export default { fetch() { return new Response('good'); } };
};

my $DEADLINE;

# A Dispatch::Test with the /t/NAME location and the "good" tenant.
# budget => seconds all of the file's cases may take together (default 110).
sub hostile_server {
    my (%args) = @_;
    my $budget = delete $args{budget} || 110;
    $DEADLINE ||= time + $budget;
    my $t = Dispatch::Test->new(workers => 1, server => $LOC, %args);
    $t->put_script('tenants', 'good', $GOOD_JS);
    return $t;
}

# seconds a read may still wait: at most $want, never past the file's budget
sub time_left {
    my ($want) = @_;
    my $left = ($DEADLINE || time + 110) - time;
    $left = 0 if $left < 0;
    return $want < $left ? $want : $left;
}

# One request on its own connection; returns
#   { raw, head_lines => [...], status_line, status, headers, content, elapsed }
# status 599 when nothing complete came back within the timeout (or the
# worker closed the connection early: a crash).
sub raw_request {
    my ($t, $req, %opts) = @_;
    $req = { path => $req } unless ref $req;
    my $timeout = time_left(defined $opts{timeout} ? $opts{timeout} : 30);
    my $t0 = time;
    my ($raw, $err) = _exchange($t, $req, $timeout);
    my $res = $err && $err =~ /^timeout/
        ? { status => 599, headers => {}, content => "read: $err" }
        : Dispatch::Test::_parse_response($raw, $req->{method} || 'GET', $err);
    $res->{raw} = $raw;
    $res->{elapsed} = time - $t0;
    my $i = index($raw, "\r\n\r\n");
    my $head = $i >= 0 ? substr($raw, 0, $i + 2) : $raw;
    my @lines = $head =~ /([^\n]*\n|[^\n]+$)/g;
    $res->{status_line} = shift(@lines) // '';
    $res->{head_lines} = \@lines;
    $res->{after_head} = $i >= 0 ? substr($raw, $i + 4) : '';
    return $res;
}

# Writes the request and reads until the server closes or $timeout passes.
# A server that answers early (a 413) and stops reading is not an error: the
# write stops and what it said is read.
sub _exchange {
    my ($t, $req, $timeout) = @_;
    my ($out) = $t->_raw_request($req);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
                                  Proto => 'tcp', Timeout => 5)
        or return ('', "connect: $!");
    binmode $s;
    $s->blocking(0);
    local $SIG{PIPE} = 'IGNORE';
    my $sel = IO::Select->new($s);
    my ($raw, $off, $err) = ('', 0);
    my $end = time + $timeout;
    while (1) {
        my $left = $end - time;
        if ($left <= 0) { $err = "timeout after ${timeout}s"; last }
        my $writing = $off < length $out;
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef, undef, $left < 0.5 ? $left : 0.5);
        if ($w && @$w) {
            my $n = syswrite($s, $out, length($out) - $off, $off);
            if (defined $n) { $off += $n }
            elsif (!$!{EAGAIN} && !$!{EINTR}) { $off = length $out }    # the server stopped reading
        }
        if ($r && @$r) {
            my $n = sysread($s, $raw, 65536, length $raw);
            if (!defined $n) { next if $!{EINTR} || $!{EAGAIN}; $err = "$!"; last }
            last if $n == 0;
        }
    }
    close $s;
    return ($raw, $err);
}

# The wire rules: a status line with a 2xx-5xx code, header lines that are a
# token, ": " and a value without CR, LF or NUL, none of the hop-by-hop or
# connection-hijacking headers a script may have tried to set, and no body
# after a 204 or 304.
sub wire_ok {
    my ($r, $name) = @_;
    my @bad;
    push @bad, "status line " . _show($r->{status_line})
        unless $r->{status_line} =~ /^HTTP\/1\.1 [2-5]\d\d(?: [\t\x20-\x7e\x80-\xff]*)?\r\n\z/;
    for my $l (@{ $r->{head_lines} }) {
        push @bad, "header line " . _show($l)
            unless $l =~ /^[!#\$%&'*+\-.^_`|~0-9A-Za-z]+: [^\r\n\0]*\r\n\z/;
        my ($k, $v) = $l =~ /^([^:]*):\s*([^\r\n]*)/ or next;
        $k = lc $k;
        push @bad, "forbidden header " . _show($l)
            if $k =~ /^(?:upgrade|te|trailer|keep-alive|proxy-.*)$/
            || ($k eq 'transfer-encoding' && lc $v ne 'chunked')
            || ($k eq 'connection' && $v !~ /^(?:close|keep-alive)$/i)
            || $l =~ /websocket|evil|injected/i;
    }
    push @bad, 'a body after ' . $1
        if $r->{status_line} =~ /^HTTP\/1\.1 (204|304)/ && length $r->{after_head};
    Test::More::ok(!@bad, "$name: what reached the wire is valid HTTP without hijacked headers")
        or Test::More::diag(join("\n", @bad));
}

sub _show {
    my ($s) = @_;
    $s = substr($s, 0, 200) . '...' if length $s > 200;
    $s =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return "'$s'";
}

# (a): the answer is one of [status, body] (a body may be a regexp)
sub answer_in {
    my ($r, $allowed, $name) = @_;
    my $ok = grep {
        my ($s, $b) = @$_;
        $r->{status} == $s && (ref $b ? $r->{content} =~ $b : $r->{content} eq $b)
    } @$allowed;
    my $want = join(' or ', map { "$_->[0] " . (ref $_->[1] ? "$_->[1]" : _show($_->[1])) } @$allowed);
    Test::More::ok($ok, "$name: answers $want")
        or Test::More::diag("got $r->{status} " . _show($r->{content} // '')
                            . sprintf(' after %.1fs', $r->{elapsed} // 0));
}

# (b) and (c)
sub survived {
    my ($t, $before, $logpos, $name) = @_;
    Test::More::is_deeply([ $t->worker_pids ], $before, "$name: the worker process is the same")
        or Test::More::diag('workers before: @' . join(',', @$before) . ' after: @' . join(',', $t->worker_pids));
    my @alerts = grep { /\[(?:alert|emerg|crit)\]/ || /exited on signal/ }
        split /\n/, substr($t->error_log, $logpos);
    Test::More::is(scalar(@alerts), 0, "$name: no alert or crash in the error log")
        or Test::More::diag(join "\n", map { _show($_) } @alerts[0 .. ($#alerts < 4 ? $#alerts : 4)]);
    my $g = raw_request($t, '/t/good', timeout => 10);
    Test::More::ok($g->{status} == 200 && $g->{content} eq 'good', "$name: a good tenant answers 200 right after")
        or Test::More::diag("good tenant: $g->{status} " . _show($g->{content}));
}

# hostile_case($t, NAME,
#     js      => the tenant's script (put as tenants/SLUG, SLUG from NAME),
#     script  => SLUG (default: NAME with non-word characters as '-'),
#     request => extra request fields (path defaults to /t/SLUG),
#     setup   => sub { my ($t, $slug) = @_; ... } before the request,
#     expect  => [[status, body], ...] (the answers the contract allows),
#     wire    => 1 to apply the wire rules to the raw answer,
#     within  => seconds the answer must come in,
#     check   => sub { my ($r, $t) = @_; ... } more assertions,
#     timeout => per-request seconds (30))
sub hostile_case {
    my ($t, $name, %c) = @_;
    (my $slug = $c{script} // $name) =~ s/[^a-z0-9_-]+/-/gi;
    $slug = lc substr($slug, 0, 63);
    Test::More::subtest($name => sub {
        if (time_left(1) <= 0) {
            Test::More::fail("$name: not run, the file's time budget is spent");
            return;
        }
        my @before = $t->worker_pids;
        my $logpos = length $t->error_log;
        $t->put_script('tenants', $slug, $c{js}, %{ $c{fields} || {} }) if defined $c{js};
        $c{setup}->($t, $slug) if $c{setup};
        my $req = { path => "/t/$slug", %{ $c{request} || {} } };
        my $r = raw_request($t, $req, timeout => $c{timeout} // 30);
        answer_in($r, $c{expect}, $name) if $c{expect};
        wire_ok($r, $name) if $c{wire};
        Test::More::cmp_ok($r->{elapsed}, '<', $c{within}, "$name: within $c{within}s") if $c{within};
        $c{check}->($r, $t, $slug) if $c{check};
        survived($t, \@before, $logpos, $name);
    });
}

1;
