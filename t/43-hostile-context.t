#!/usr/bin/perl
# Hostile tenants and the request context: a tenant that steals the callbacks
# ctx.waitUntil() hands to .then() cannot end other requests' work early,
# and every log line a request causes names that request (client and request
# line), so an operator can tell which request a tenant's output came from.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;

my $t = hostile_server(budget => 40);

# ---------------------------------------------------------------------------
# ctx.waitUntil: ?mode=victim keeps 1.5 s of work going after its response
# (a KV write at the end, without a .then() of its own); ?mode=thief calls
# every function the runtime ever passed to Promise.prototype.then, 100
# times each, the victim's included; ?mode=read shows the victim's write.

sub waiting_tenant {
    my ($thief) = @_;
    my $hook = $thief ? q{
        const captured = [];
        const realThen = Promise.prototype.then;
        Promise.prototype.then = function (onFulfilled, onRejected) {
          if (typeof onFulfilled === 'function') captured.push(onFulfilled);
          if (typeof onRejected === 'function') captured.push(onRejected);
          return Reflect.apply(realThen, this, [onFulfilled, onRejected]);
        };
    } : 'const captured = [];';
    return qq{
        $hook
        const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
        export default {
          async fetch(request, env, ctx) {
            const mode = new URL(request.url).searchParams.get('mode');
            if (mode === 'victim') {
              ctx.waitUntil((async () => { await sleep(1500); await env.KV.put('victim', 'done'); })());
              return new Response('victim');
            }
            if (mode === 'read') return new Response((await env.KV.get('victim')) ?? 'not yet');
            let calls = 0;
            for (let round = 0; round < 100; round++) {
              const fns = captured.slice();
              for (let i = 0; i < fns.length; i++) { try { fns[i](undefined); calls++; } catch (e) {} }
            }
            return new Response('thief');
          }
        };
    };
}

sub kv { '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"' . $_[0] . '"}]}' }

hostile_case($t, "waitUntil callbacks stolen and called 100 times each end no request's work early",
    js      => waiting_tenant(1),
    fields  => { metadata => kv('thief') },
    setup   => sub {
        my ($t, $slug) = @_;
        $t->put_script('tenants', 'bystander', waiting_tenant(0), metadata => kv('bystander'));
        is raw_request($t, '/t/bystander?mode=victim', timeout => 10)->{content}, 'victim',
            "another tenant's request answers and keeps its work going";
        is raw_request($t, "/t/$slug?mode=victim", timeout => 10)->{content}, 'victim',
            "the thief's own earlier request answers and keeps its work going";
    },
    request => { path => '/t/' . 'waituntil-callbacks-stolen?mode=thief' },
    script  => 'waituntil-callbacks-stolen',
    expect  => [[200, 'thief']],
    check   => sub {
        my ($r, $t, $slug) = @_;
        ok $t->wait_for(sub { raw_request($t, "/t/$slug?mode=read", timeout => 5)->{content} eq 'done' }, timeout => 8),
            "the thief's earlier request's waitUntil work still completes";
        ok $t->wait_for(sub { raw_request($t, '/t/bystander?mode=read', timeout => 5)->{content} eq 'done' }, timeout => 8),
            "the other tenant's waitUntil work still completes";
    });

# ---------------------------------------------------------------------------
# log lines carry the request's context

# the error log record (a line, and any continuation lines of a multi-line
# message) that contains $marker
sub log_record {
    my ($t, $marker) = @_;
    my @records = split /\n(?=\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d )/, $t->error_log;
    my ($rec) = grep { index($_, $marker) >= 0 } @records;
    return $rec;
}

sub names_request {
    my ($t, $marker, $slug, $what) = @_;
    ok $t->wait_for(sub { defined log_record($t, $marker) }), "$what reaches the error log";
    my $rec = log_record($t, $marker) // '';
    like $rec, qr/client: 127\.0\.0\.1/, "$what: the line names the client";
    like $rec, qr/request: "GET \/t\/\Q$slug\E HTTP\/1\.1"/, "$what: the line names the request";
}

hostile_case($t, 'a console.log line carries client and request line',
    js     => q{ export default { fetch() { console.log('marker-XYZ'); return new Response('logged'); } }; },
    script => 'log-console',
    expect => [[200, 'logged']],
    check  => sub {
        my ($r, $t, $slug) = @_;
        names_request($t, 'marker-XYZ', $slug, 'console.log');
        my ($line) = grep { /marker-XYZ/ } split /\n/, $t->error_log;
        like $line // '', qr/marker-XYZ.*client: 127\.0\.0\.1, .*request: "GET \/t\/\Q$slug\E HTTP\/1\.1"/,
            'on the same line as the message';
    });

hostile_case($t, "an uncaught exception's log line carries client and request line",
    js     => q{ export default { fetch() { throw new Error('boom-XYZ'); } }; },
    script => 'log-exception',
    expect => [[500, "exception\n"]],
    check  => sub {
        my ($r, $t, $slug) = @_;
        names_request($t, 'boom-XYZ', $slug, 'the uncaught exception');
    });

hostile_case($t, 'a console.log from waitUntil work after the response still names its request',
    js     => q{
        export default {
          fetch(request, env, ctx) {
            ctx.waitUntil(new Promise((resolve) => setTimeout(() => { console.log('late-XYZ'); resolve(); }, 200)));
            return new Response('sent');
          }
        };
    },
    script => 'log-late',
    expect => [[200, 'sent']],
    check  => sub {
        my ($r, $t, $slug) = @_;
        names_request($t, 'late-XYZ', $slug, 'the late console.log');
    });

$t->stop;
done_testing;
