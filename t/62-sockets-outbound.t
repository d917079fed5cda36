#!/usr/bin/perl
# cloudflare:sockets and outbound workers: a script dispatched through a
# dispatch_namespace binding with an outbound worker has every fetch() go
# through that worker; connect() would go around it, so it is a TypeError
# there (README, TCP sockets), while the same script called directly
# connects (the egress policy opens the harness's Redis).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    http   => 'dispatch_fetch_allow 127.0.0.1/32;',
    server => q{
        location /r/ { dispatch platform router; }
        location /direct/ { dispatch customer-scripts tenant; }
    },
);
$t->put_script('platform', 'router', q{
export default {
  fetch(req, env) { return env.CUSTOMERS.get('tenant').fetch(req); }
};
}, metadata => '{"bindings":[{"type":"dispatch_namespace","name":"CUSTOMERS","namespace":"customer-scripts",'
    . '"outbound":{"worker":{"service":"gate"}}}]}');
$t->put_script('platform', 'gate', q{
export default { fetch(req) { return new Response('the gate saw ' + new URL(req.url).pathname); } };
});
$t->put_script('customer-scripts', 'tenant', qq{ const REDIS = { hostname: '127.0.0.1', port: ${\ $t->redis_port } }; } . q{
import { connect } from 'cloudflare:sockets';
export default {
  async fetch() {
    try {
      const socket = connect(REDIS);
      const { remoteAddress } = await socket.opened;
      socket.close();
      return new Response(`connected to ${remoteAddress}`);
    } catch (e) {
      return new Response(`${e.name}: ${e.message}`);
    }
  }
};
});

is $t->get('/direct/')->{content}, 'connected to 127.0.0.1:' . $t->redis_port, 'the tenant, called directly, connects';
is $t->get('/r/')->{content},
    "TypeError: connect(): this request's connections go to its outbound worker, which takes fetch() only",
    'dispatched through a binding with an outbound worker, connect() is a TypeError';
is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
