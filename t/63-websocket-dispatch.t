#!/usr/bin/perl
# WebSockets through a router, as a platform on Cloudflare serves its
# customers': the customer's Worker answers with a 101 and its socket; a
# router that reaches it through a dispatch namespace or a service binding
# returns that Response (as it is, or in a new one) and the client talks
# to the customer's Worker, under the customer's limits. And the timers of
# an open socket: each callback is an event with its own CPU.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::WebSocket qw(ws_send ws_recv ws_eof frame close_code ws_past_cpu);

my $t = Dispatch::Test->new(
    server => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location ~ ^/beat/(?<script>[^/]*) { dispatch tenants $script; dispatch_cpu_limit 50ms; }
        location = /status { dispatch_status; }
    },
);

sub ws_open { Dispatch::WebSocket::ws_open($t->port, @_) }

# ---- timers of an open socket ------------------------------------------------------

$t->put_script('tenants', 'burner', q{
    export default { fetch() {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener('message', (event) => {
        let x = 0;
        for (let i = Number(event.data); i > 0; i--) x = (x * 31 + i) | 0;
        server.send(`burnt ${x === 0.5 ? '' : event.data}`);
      });
      return new Response(null, { status: 101, webSocket: client });
    } };
});
$t->put_script('tenants', 'heartbeat', q{
    export default { fetch() {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener('message', (event) => {
        // Started by the client's one message; the client then says nothing.
        const n = Number(event.data);
        let tick = 0;
        const beat = setInterval(() => {
          let x = 0;
          for (let i = n; i > 0; i--) x = (x * 31 + i) | 0;
          server.send(`ping ${++tick}${x === 0.5 ? '!' : ''}`);
          if (tick === 20) {
            clearInterval(beat);
            server.close(1000, 'enough');
          }
        }, 50);
      });
      return new Response(null, { status: 101, webSocket: client });
    } };
});

subtest 'a heartbeat of a silent client: each tick has the CPU of an event' => sub {
    # n iterations, doubled until 6n in one event is past the 50 ms limit:
    # then one tick of n is more than 8 ms, twenty of them more than 160.
    my ($n, $found) = ws_past_cpu(sub { ws_open('/beat/burner') }, sub { "$_[0]" });
    is $found, 1011, "6 x $n iterations are past one event's CPU";
    my $c = ws_open('/beat/heartbeat');
    ws_send($c, 1, "$n");
    my @pings;
    for (1 .. 20) {
        my $f = ws_recv($c, 5);
        last unless ($f->[0] // -1) == 1;
        push @pings, $f->[1];
    }
    is_deeply \@pings, [map { "ping $_" } 1 .. 20], "20 ticks of $n iterations each, 50 ms apart";
    my $f = ws_recv($c, 5);
    is_deeply [$f->[0], close_code($f)], [8, 1000], 'then the script\'s own Close';
};

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
