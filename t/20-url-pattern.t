#!/usr/bin/perl
# URLPattern, the WHATWG URL Pattern Standard's global that Workers has:
# routers written for Workers match request.url with it. Each check is the
# JavaScript next to what it must answer; the expected values are the
# standard's (the cases follow web-platform-tests' urlpattern vectors).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;

my $t = hostile_server(budget => 60);

my $got = $t->run_checks('tenants', 'urlpattern', <<'JS', path => '/t/urlpattern/books/42');
    const check = (value, expected) => {
      const a = JSON.stringify(value, (k, v) => (v === undefined ? '<undefined>' : v));
      const b = JSON.stringify(expected, (k, v) => (v === undefined ? '<undefined>' : v));
      return a === b ? 'ok' : `got ${a}, want ${b}`;
    };
    const throwsTypeError = (f) => {
      try { f(); return 'no exception'; } catch (e) { return e instanceof TypeError ? 'ok' : `threw ${e}`; }
    };
    const groups = (p, input, base) => { const r = base === undefined ? p.exec(input) : p.exec(input, base); return r && r.pathname.groups; };
    export default { fetch: (request) => results({
      // A router as Cloudflare's docs write one: a pathname pattern against request.url.
      routes_a_request_url: () => {
        const route = new URLPattern({ pathname: '/t/urlpattern/books/:id' });
        const match = route.exec(request.url);
        return check([route.test(request.url), match.pathname.groups, match.hostname.input,
          route.test('https://example.com/t/urlpattern/authors/1')], [true, { id: '42' }, '127.0.0.1', false]);
      },
      named_group_is_one_segment: () => {
        const p = new URLPattern({ pathname: '/foo/:bar' });
        return check([groups(p, 'https://x/foo/index.html'), p.test('https://x/foo/bar/'), p.test('https://x/foo/')],
          [{ bar: 'index.html' }, false, false]);
      },
      modifiers_optional_repeated: () => check([
        groups(new URLPattern({ pathname: '/foo/:bar?' }), 'https://x/foo'),
        groups(new URLPattern({ pathname: '/foo/:bar+' }), 'https://x/foo/a/b'),
        groups(new URLPattern({ pathname: '/foo/:bar*' }), 'https://x/foo'),
        new URLPattern({ pathname: '/foo/:bar+' }).test('https://x/foo'),
        new URLPattern({ pathname: '/foo{/bar}?' }).test('https://x/foo'),
        new URLPattern({ pathname: '/foo{/bar}+' }).test('https://x/foo/bar/bar'),
      ], [{ bar: undefined }, { bar: 'a/b' }, { bar: undefined }, false, true, true]),
      wildcards_and_regexp_groups: () => {
        const p = new URLPattern({ pathname: '/files/*' });
        const r = new URLPattern({ pathname: '/n/:number([0-9]+)' });
        return check([groups(p, 'https://x/files/a/b.txt'), groups(r, 'https://x/n/8675'), r.test('https://x/n/x1'),
          p.hasRegExpGroups, r.hasRegExpGroups, groups(new URLPattern({ pathname: '(foo)(.*)' }), { pathname: 'foobarbaz' })],
        [{ 0: 'a/b.txt' }, { number: '8675' }, false, false, true, { 0: 'foo', 1: 'barbaz' }]);
      },
      constructor_string_with_every_component: () => {
        const p = new URLPattern('http{s}?://{*.}?example.com/:product/:endpoint');
        const m = p.exec('https://sub.example.com/foo/bar');
        return check([p.protocol, p.hostname, p.port, p.pathname, p.search, p.hash, m.hostname.groups, m.pathname.groups],
          ['http{s}?', '{*.}?example.com', '', '/:product/:endpoint', '*', '*', { 0: 'sub' }, { product: 'foo', endpoint: 'bar' }]);
      },
      relative_string_takes_a_base_url: () => {
        const p = new URLPattern('/foo?bar#baz', 'https://example.com:8080');
        return check([p.protocol, p.hostname, p.port, p.pathname, p.search, p.hash,
          p.test('https://example.com:8080/foo?bar#baz'), p.test('https://example.com/foo?bar#baz')],
        ['https', 'example.com', '8080', '/foo', 'bar', 'baz', true, false]);
      },
      relative_string_without_base_is_a_type_error: () => throwsTypeError(() => new URLPattern('/books/:id')),
      missing_components_are_wildcards: () => {
        const p = new URLPattern({ pathname: '/a' });
        return check([p.protocol, p.username, p.hostname, p.port, p.search, p.hash, p.test('ftp://u:p@h:1/a?q#f')],
          ['*', '*', '*', '*', '*', '*', true]);
      },
      components_are_canonicalized: () => check([
        new URLPattern({ hostname: 'caf\u00e9.com' }).hostname,
        new URLPattern({ pathname: '/caf\u00e9' }).pathname,
        new URLPattern({ pathname: '/foo/../bar' }).pathname,
        new URLPattern({ search: 'q=caf\u00e9' }).search,
        new URLPattern({ protocol: 'HTTPS:' }).protocol,
        new URLPattern({ protocol: 'http', port: '80' }).port,
        new URLPattern({ hostname: '[\\:\\:AB\\::num]' }).hostname,
        new URLPattern({ pathname: '/:id/:id2(\\d+)?' }).pathname,
      ], ['xn--caf-dma.com', '/caf%C3%A9', '/bar', 'q=caf%C3%A9', 'https', '', '[\\:\\:ab\\::num]', '/:id/:id2(\\d+)?']),
      pattern_strings_are_normalized: () => check([
        new URLPattern({ pathname: '/foo/(.*)' }).pathname,
        new URLPattern({ pathname: '{:foo}{(.*)}' }).pathname,
        new URLPattern({ pathname: '*{}**?' }).pathname,
        new URLPattern({ pathname: ':foo\\bar' }).pathname,
        new URLPattern({ pathname: '/foo{/bar}' }).pathname,
      ], ['/foo/*', '{:foo}(.*)', '*(.*)?', '{:foo}bar', '/foo/bar']),
      exec_result_shape: () => {
        const r = new URLPattern({ pathname: '/foo/:bar?' }).exec({ pathname: '/foo' });
        return check([Object.keys(r), r.inputs, r.pathname, r.protocol, Object.getPrototypeOf(r.pathname.groups) === Object.prototype],
          [['inputs', 'protocol', 'username', 'password', 'hostname', 'port', 'pathname', 'search', 'hash'],
            [{ pathname: '/foo' }], { input: '/foo', groups: { bar: undefined } }, { input: '', groups: { 0: '' } }, true]);
      },
      exec_with_a_base_url: () => {
        const p = new URLPattern({ pathname: '/foo/bar' });
        const r = p.exec('./foo/bar', 'https://example.com');
        return check([r.inputs, r.hostname.input, p.exec('foo', 'not|a|valid|url'), p.exec('not a url')],
          [['./foo/bar', 'https://example.com'], 'example.com', null, null]);
      },
      dictionary_input_with_base_url_argument_is_a_type_error: () =>
        throwsTypeError(() => new URLPattern({ pathname: '/foo' }).exec({ pathname: '/foo' }, 'https://example.com')),
      ignore_case_option: () => check([
        new URLPattern({ pathname: '/foo/bar' }, { ignoreCase: true }).test({ pathname: '/FOO/BAR' }),
        new URLPattern({ pathname: '/foo/bar' }).test({ pathname: '/FOO/BAR' }),
        new URLPattern('/foo?bar#baz', 'https://example.com', { ignoreCase: true }).test('https://example.com/FOO?BAR#BAZ'),
      ], [true, false, true]),
      invalid_patterns_are_type_errors: () => check([
        throwsTypeError(() => new URLPattern({ pathname: '/:id/:id' })),
        throwsTypeError(() => new URLPattern({ pathname: '/(\\m)' })),
        throwsTypeError(() => new URLPattern({ pathname: '/foo{' })),
        throwsTypeError(() => new URLPattern({ pathname: '/(caf\u00e9)' })),
        throwsTypeError(() => new URLPattern({ hostname: 'bad hostname' })),
        throwsTypeError(() => new URLPattern('(caf\u00e9)://foo')),
        throwsTypeError(() => new URLPattern({ pathname: '/foo', baseURL: '' })),
        throwsTypeError(() => new URLPattern({ pathname: '/foo' }, 'https://example.com')),
        throwsTypeError(() => new URLPattern({ hostname: 'bad#hostname' })),
        throwsTypeError(() => new URLPattern({ hostname: 'bad\thostname' })),
        throwsTypeError(() => new URLPattern({ protocol: 'http', port: '80 ' })),
        throwsTypeError(() => new URLPattern('https://{sub.}?example{.com/}foo')),
      ], ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']),
      ipv6_hostnames: () => {
        const p = new URLPattern('http://[\\:\\:AB\\::num]/');
        return check([p.hostname, p.exec('http://[::ab:1]/').hostname.groups, p.test({ hostname: '[::AB:1]', protocol: 'http', pathname: '/' }),
          new URLPattern({ hostname: '[*\\:1]' }).exec({ hostname: '[::ab:1]' }).hostname.groups],
        ['[\\:\\:ab\\::num]', { num: '1' }, true, { 0: '::ab' }]);
      },
      opaque_paths: () => {
        const p = new URLPattern({ protocol: 'data', pathname: ':number([0-9]+)' });
        return check([groups(p, 'data:8675309'), new URLPattern({ protocol: 'javascript', pathname: 'var x = 1;' }).pathname],
          [{ number: '8675309' }, 'var x = 1;']);
      },
      a_url_object_is_matched_by_its_components: () =>
        check(new URLPattern({ pathname: '/a/:x' }).exec(new URL('https://h/a/1?q')).pathname.groups, { x: '1' }),
      interface: () => check([typeof URLPattern, URLPattern.length, Object.prototype.toString.call(new URLPattern()),
        URLPattern.prototype.test.length, throwsTypeError(() => URLPattern.prototype.exec.call({}, 'https://x/'))],
      ['function', 0, '[object URLPattern]', 0, 'ok']),
      replaced_intrinsics_do_not_change_matching: () => {
        const saved = [RegExp.prototype.exec, String.prototype.slice, String.prototype.charCodeAt, Array.prototype.includes];
        RegExp.prototype.exec = () => null;
        String.prototype.slice = () => 'x';
        String.prototype.charCodeAt = () => 0;
        Array.prototype.includes = () => false;
        Object.defineProperty(Object.prototype, 'id', { set() { throw new Error('setter ran'); }, configurable: true });
        Object.defineProperty(Array.prototype, 0, { set() { throw new Error('setter ran'); }, configurable: true });
        try {
          const p = new URLPattern('https://example.com/users/:id');
          return check([p.exec('https://example.com/users/7').pathname.groups.id, p.test('https://example.com/x')], ['7', false]);
        } finally {
          [RegExp.prototype.exec, String.prototype.slice, String.prototype.charCodeAt, Array.prototype.includes] = saved;
          delete Object.prototype.id;
          delete Array.prototype[0];
        }
      },
    }) };
JS

for my $name (sort keys %$got) {
    is $got->{$name}, 'ok', $name;
}
is scalar(keys %$got), 20, 'every URLPattern check ran';

# A tenant's regular expression group that backtracks for ever is stopped by
# the CPU limit like any other script; the worker and other tenants go on.
hostile_case($t, 'a catastrophic regexp group in a URLPattern is stopped by the CPU limit', js => q{
    export default { fetch() {
      const p = new URLPattern({ pathname: '/((?:a|aa)+)b' });
      return new Response(String(p.test({ pathname: '/' + 'a'.repeat(64) })));
    } };
}, expect => [[503, qr/exceeded_cpu/]]);

done_testing;
