#!/usr/bin/perl
# A Request copied (new Request(request), clone()) or sent (fetch(),
# a dispatch) takes its URL and headers from its own fields, never from
# getters a tenant put on Request.prototype: a replaced url getter cannot
# carry a URL past the checks, a replaced headers getter cannot hand the
# built-ins something that is not Headers.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP ();

my $t = Dispatch::Test->new(
    server => q{ location /t/ { dispatch api checks; } location /echo/ { dispatch api echo; } },
);
$t->start;

$t->put_script('api', 'echo', q{
  export default { fetch: (req) => Response.json({ url: req.url, who: req.headers.get('x-who') }) };
});
$t->put_script('api', 'checks', $Dispatch::Test::RESULTS_JS . q{
    const proto = Request.prototype;
    const url = Object.getOwnPropertyDescriptor(proto, 'url');
    const headers = Object.getOwnPropertyDescriptor(proto, 'headers');
    const seen = [];
    const tamper = () => {
      Object.defineProperty(proto, 'url', { get() { seen.push('url'); return 'not a url at all'; }, configurable: true });
      Object.defineProperty(proto, 'headers', { get() { seen.push('headers'); return { tenant: 'object' }; }, configurable: true });
    };
    const untamper = () => { Object.defineProperty(proto, 'url', url); Object.defineProperty(proto, 'headers', headers); };
    const own = (r) => [url.get.call(r), headers.get.call(r).get('x-who')];
    export default { fetch: async (req, env) => {
      const source = new Request('https://example.test/path', { headers: { 'x-who': 'me' } });
      tamper();
      let copied, cloned, sent;
      try {
        copied = own(new Request(source));
        cloned = own(source.clone());
        sent = await (await env.SELF.fetch(new Request('http://tenant.test/echo/x', { headers: { 'x-who': 'dispatched' } }))).json();
      } finally { untamper(); }
      return results({ copied: () => copied, cloned: () => cloned, sent: () => sent, seen: () => seen });
    } };
}, metadata => '{"bindings":[{"type":"service","name":"SELF","service":"echo"}]}');
my $r = $t->get('/t/');
is $r->{status}, 200, 'the checks ran' or diag $r->{content};
my $got = JSON::PP::decode_json($r->{content});
is_deeply $got->{copied}, ['https://example.test/path', 'me'], 'new Request(request) copies its own URL and headers';
is_deeply $got->{cloned}, ['https://example.test/path', 'me'], 'so does clone()';
is_deeply $got->{sent}, { url => 'http://tenant.test/echo/x', who => 'dispatched' }, 'and a dispatch sends them';
is_deeply $got->{seen}, [], 'the tenant\'s getters were never called';

done_testing;
