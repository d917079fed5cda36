#!/usr/bin/perl
# Issue 4 (SPEC 5): URL and URLSearchParams against the web-platform-tests
# vectors in shared/conformance/url/, run inside a tenant isolate through
# nginx. The tenant runs every case of one file per request and answers a JSON
# summary; each file must have no failure. Cases that cannot apply are skipped
# by the tenant with a reason, and only the skips listed here are accepted.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP;

# shared/ sits beside the repository in a clean clone (and in CI).
my ($shared) = grep { -d "$_/conformance/url" } "$FindBin::Bin/../../shared", '/work/shared';
plan skip_all => 'shared/conformance/url not found beside the repository' unless $shared;
my $dir = "$shared/conformance/url";

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!";
    local $/;
    return scalar <$fh>;
}

my %files = (
    'urltestdata'                 => 'urltestdata.json',
    'urltestdata-javascript-only' => 'urltestdata-javascript-only.json',
    'setters'                     => 'setters_tests.json',
    'toascii'                     => 'toascii.json',
    'percent-encoding'            => 'percent-encoding.json',
);
my %json = map { $_ => slurp("$dir/$files{$_}") } keys %files;

# The only rows skipped on purpose: percent-encoding.json lists, beside UTF-8,
# what legacy encodings (an HTML document's charset) make of the query. A URL
# built by the URL API always uses UTF-8, so every non-UTF-8 output is skipped.
my %expected_skips = map { $_ => {} } keys %files;
for my $row (@{ JSON::PP->new->decode($json{'percent-encoding'}) }) {
    next unless ref $row;
    for my $encoding (keys %{ $row->{output} }) {
        next if $encoding eq 'utf-8';
        $expected_skips{'percent-encoding'}{"legacy encoding $encoding: the URL API always encodes queries as UTF-8"}++;
    }
}

my $t = Dispatch::Test->new(
    http => q{
        dispatch_script_max_size 20m;
        dispatch_cpu_limit 20s;
        dispatch_startup_cpu_limit 20s;
        dispatch_wall_limit 60s;
    },
    server => q{
        location / { dispatch conformance url; }
    },
);

my $tenant = <<'JS';
// ---- conformance tenant (begin)
const ATTRIBUTES = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port',
  'pathname', 'search', 'hash'];

function newReport() {
  return { passed: 0, failed: 0, skipped: 0, skips: {}, failures: [] };
}

function pass(report) {
  report.passed++;
}

function fail(report, failure) {
  report.failed++;
  if (report.failures.length < 50) report.failures.push(failure);
}

function skip(report, reason) {
  report.skipped++;
  report.skips[reason] = (report.skips[reason] || 0) + 1;
}

function check(report, ok, failure) {
  if (ok) pass(report);
  else fail(report, failure);
}

function describeError(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : `threw ${String(error)}`;
}

// What f throws: 'TypeError', another description, or null if it returns.
function thrown(f) {
  try {
    f();
    return null;
  } catch (error) {
    return error instanceof TypeError ? 'TypeError' : describeError(error);
  }
}

// urltestdata*.json, as url-constructor, url-statics-canparse,
// url-statics-parse and failure.html of web-platform-tests run them.
function runURLTestData(cases, report) {
  for (const test of cases) {
    if (typeof test === 'string') continue;
    const base = test.base == null ? undefined : test.base;
    const args = base === undefined ? [test.input] : [test.input, base];
    const where = { input: test.input, base: test.base ?? null };

    let url = null;
    let error = null;
    try {
      url = new URL(...args);
    } catch (e) {
      error = e;
    }
    if (test.failure) {
      check(report, error instanceof TypeError,
        { ...where, check: 'new URL', expected: 'TypeError', got: error ? describeError(error) : url.href });
    } else if (error !== null) {
      fail(report, { ...where, check: 'new URL', expected: test.href, got: describeError(error) });
    } else {
      const expected = {};
      const got = {};
      for (const name of [...ATTRIBUTES, 'searchParams']) {
        if (!(name in test)) continue;
        const value = name === 'searchParams' ? url.searchParams.toString() : url[name];
        if (value !== test[name]) {
          expected[name] = test[name];
          got[name] = value;
        }
      }
      check(report, Object.keys(got).length === 0, { ...where, check: 'new URL', expected, got });
    }

    const canParse = URL.canParse(...args);
    check(report, canParse === !test.failure,
      { ...where, check: 'URL.canParse', expected: !test.failure, got: canParse });

    let parsed;
    try {
      parsed = URL.parse(...args);
    } catch (e) {
      parsed = describeError(e);
    }
    const parsedHref = parsed instanceof URL ? parsed.href : parsed;
    check(report, test.failure ? parsed === null : parsedHref === test.href,
      { ...where, check: 'URL.parse', expected: test.failure ? null : test.href, got: parsedHref });

    if (test.failure && base === undefined) {
      // An input that fails without a base fails as a base and as href too.
      const asBase = thrown(() => new URL('about:blank', test.input));
      check(report, asBase === 'TypeError',
        { ...where, check: 'new URL("about:blank", input)', expected: 'TypeError', got: asBase });
      const asHref = thrown(() => {
        new URL('about:blank').href = test.input;
      });
      check(report, asHref === 'TypeError',
        { ...where, check: 'href setter', expected: 'TypeError', got: asHref });
    }
  }
}

// setters_tests.json, as url-setters does.
function runSetters(data, report) {
  for (const attribute of Object.keys(data)) {
    if (attribute === 'comment') continue;
    for (const test of data[attribute]) {
      const where = { href: test.href, attribute, new_value: test.new_value };
      let url;
      try {
        url = new URL(test.href);
        url[attribute] = test.new_value;
      } catch (e) {
        fail(report, { ...where, expected: test.expected, got: describeError(e) });
        continue;
      }
      const got = {};
      for (const [name, value] of Object.entries(test.expected)) {
        if (url[name] !== value) got[name] = url[name];
      }
      check(report, Object.keys(got).length === 0, { ...where, expected: test.expected, got });
    }
  }
}

// toascii.json, as toascii.window.js does with URL.
function runToASCII(cases, report) {
  for (const test of cases) {
    if (typeof test === 'string') continue;
    const where = { input: test.input, expected: test.output };
    if (test.output !== null) {
      let got;
      try {
        const url = new URL(`https://${test.input}/x`);
        got = [url.host, url.hostname, url.pathname, url.href];
      } catch (e) {
        got = describeError(e);
      }
      const want = [test.output, test.output, '/x', `https://${test.output}/x`];
      check(report, JSON.stringify(got) === JSON.stringify(want), { ...where, check: 'new URL', got });
    } else {
      const got = thrown(() => new URL(`https://${test.input}/x`));
      check(report, got === 'TypeError', { ...where, check: 'new URL', got });
    }
    for (const attribute of ['host', 'hostname']) {
      const url = new URL('https://x/x');
      url[attribute] = test.input;
      const want = test.output === null ? 'x' : test.output;
      check(report, url[attribute] === want, { ...where, check: `${attribute} setter`, got: url[attribute] });
    }
  }
}

// percent-encoding.json, as percent-encoding.window.js does: the input as
// query and as fragment of a URL.
function runPercentEncoding(cases, report) {
  for (const test of cases) {
    if (typeof test === 'string') continue;
    for (const encoding of Object.keys(test.output)) {
      if (encoding !== 'utf-8') {
        skip(report, `legacy encoding ${encoding}: the URL API always encodes queries as UTF-8`);
        continue;
      }
      const url = new URL(`https://doesnotmatter.invalid/?${test.input}#${test.input}`);
      const want = test.output['utf-8'];
      check(report, url.search === `?${want}` && url.hash === `#${want}`,
        { input: test.input, expected: want, got: { search: url.search, hash: url.hash } });
    }
  }
}

// URLSearchParams and the URL <-> searchParams link, which no vector file covers.
function runSearchParams(report) {
  const cases = [];
  const is = (name, got, want) => cases.push([name, got, want]);
  const list = (params) => JSON.stringify([...params]);

  let p = new URLSearchParams('?a=1&b=2&a=3');
  is('string init', list(p), '[["a","1"],["b","2"],["a","3"]]');
  is('size', p.size, 3);
  is('get', p.get('a'), '1');
  is('get missing', p.get('z'), null);
  is('getAll', JSON.stringify(p.getAll('a')), '["1","3"]');
  is('has', p.has('b'), true);
  is('has name value', p.has('a', '3'), true);
  is('has name other value', p.has('a', '2'), false);
  p.delete('a', '3');
  is('delete name value', p.toString(), 'a=1&b=2');
  p.append('a', '4');
  p.set('a', 'z');
  is('set replaces the first, drops the rest', p.toString(), 'a=z&b=2');
  p.delete('a');
  is('delete name', p.toString(), 'b=2');
  p.delete('b', undefined);
  is('delete name, undefined value', p.size, 0);

  p = new URLSearchParams('z=1&a=2&z=0&a=1&\uFFFD=x&\u00E9=y');
  p.sort();
  is('sort is stable, by code units', p.toString(), 'a=2&a=1&z=1&z=0&%C3%A9=y&%EF%BF%BD=x');

  is('sequence init', new URLSearchParams([['a', '1'], ['b', '2']]).toString(), 'a=1&b=2');
  is('record init', new URLSearchParams({ a: '1', b: 'x y' }).toString(), 'a=1&b=x+y');
  is('URLSearchParams init', new URLSearchParams(new URLSearchParams('q=1&r=2')).toString(), 'q=1&r=2');
  is('bad pair', thrown(() => new URLSearchParams([['a']])), 'TypeError');
  is('no init', new URLSearchParams().toString(), '');
  is('serialize', new URLSearchParams([['a b', 'c&d=\u00E9~*-._!\'()']]).toString(),
    'a+b=c%26d%3D%C3%A9%7E*-._%21%27%28%29');
  is('parse', list(new URLSearchParams('a=%zz&b=%41+%42&c&=d&&e=f=g&%F0%9F%92%A9=%FF')),
    '[["a","%zz"],["b","A B"],["c",""],["","d"],["e","f=g"],["\uD83D\uDCA9","\uFFFD"]]');
  is('lone surrogates', new URLSearchParams([['\uD800', '\uDC00']]).toString(), '%EF%BF%BD=%EF%BF%BD');

  p = new URLSearchParams('a=1&b=2');
  const seen = [];
  p.forEach(function (value, name, params) {
    seen.push(`${name}=${value}:${params === p}:${this.tag}`);
  }, { tag: 't' });
  is('forEach', seen.join(','), 'a=1:true:t,b=2:true:t');
  is('keys', JSON.stringify([...p.keys()]), '["a","b"]');
  is('values', JSON.stringify([...p.values()]), '["1","2"]');
  is('entries', JSON.stringify([...p.entries()]), '[["a","1"],["b","2"]]');
  is('@@iterator is entries', URLSearchParams.prototype[Symbol.iterator], URLSearchParams.prototype.entries);
  const iterator = p.keys();
  p.append('c', '3');
  is('iterators see later changes', JSON.stringify([...iterator]), '["a","b","c"]');
  is('iterator tag', Object.prototype.toString.call(p.keys()), '[object URLSearchParams Iterator]');
  is('tag', Object.prototype.toString.call(p), '[object URLSearchParams]');

  const url = new URL('http://example.com/path?a=1#f');
  is('searchParams is the same object', url.searchParams === url.searchParams, true);
  url.searchParams.append('b', 'x y');
  is('searchParams -> URL', url.href, 'http://example.com/path?a=1&b=x+y#f');
  url.search = '?c=3';
  is('search -> searchParams', list(url.searchParams), '[["c","3"]]');
  url.searchParams.delete('c');
  is('empty searchParams -> no query', url.href, 'http://example.com/path#f');
  url.href = 'https://example.org/?q=%C3%A9';
  is('href -> searchParams', url.searchParams.get('q'), '\u00E9');
  url.search = 'a=b\tc';
  is('search setter: the query loses the tab', url.search, '?a=bc');
  is('search setter: the list parses the value as given', url.searchParams.get('a'), 'b\tc');
  const lazy = new URL('http://example.com/');
  lazy.search = 'x=1\t2';
  is('search setter before searchParams is read', lazy.searchParams.get('x'), '1\t2');
  url.search = '';
  is('empty search', list(url.searchParams), '[]');

  const u = new URL('http://example.com/a b?c d#e f');
  is('String(url)', String(u), u.href);
  is('toJSON', JSON.stringify({ u }), '{"u":"http://example.com/a%20b?c%20d#e%20f"}');
  is('URL.parse relative', URL.parse('../x', 'http://h/a/b/c').href, 'http://h/a/x');
  is('URL.parse failure', URL.parse('no scheme'), null);
  is('URL.canParse', URL.canParse('x:'), true);
  is('URL requires an argument', thrown(() => new URL()), 'TypeError');
  is('bad base', thrown(() => new URL('/x', 'not a url')), 'TypeError');
  is('URL tag', Object.prototype.toString.call(u), '[object URL]');
  is('no leak to globalThis', typeof globalThis.basicURLParse, 'undefined');

  for (const [name, got, want] of cases) {
    check(report, Object.is(got, want), { check: name, expected: want, got });
  }
}

// The fast path (url.js fastURLParse) against the state machine: a leading
// space, which the parser trims before anything else, sends any input the
// whole way through the state machine, so new URL(input) and
// new URL(' ' + input) must agree on every attribute, or both throw. Run
// over every WPT vector and over inputs at the edges of the fast path.
const FAST_PATH_EDGES = (() => {
  const schemes = ['http://', 'https://', 'HTTP://', 'hTtps://', 'ws://', 'http:', 'http:\\\\', 'http:/'];
  const hosts = ['example.com', 'EXAMPLE.com', 'a-b_c.example.', '127.0.0.1', '0.0.0.0', '255.255.255.255',
    '256.0.0.1', '01.2.3.4', '0x7f.1', '1.2.3', '1.2.3.4.', '2130706433', 'a.1b', 'a..b', '.', '[::1]',
    '[0:0::ffff:1.2.3.4]', 'user@h', 'u:p@h', '@h', 'xn--a', 'xn--nxasmq6b', '%41.com', 'ex%2Ample.com',
    'exa mple', 'ex\tample', 'ex\nample', '\u00F1.com', 'h~', 'h!', ''];
  const ports = ['', ':', ':0', ':80', ':443', ':080', ':8080', ':08080', ':65535', ':65536', ':000080',
    ':99999', ':1a', ': 1'];
  const paths = ['', '/', '/json', '/a/b/', '//', '/a//b', '/a/b/c/d/e/f', '/a/./b', '/a/../b', '/.', '/..', '/...',
    '/.a', '/a.', '/%2e', '/%2E%2e/x', '/.%2e', '/%2e./x', '/a%2eb', '/%zz', '/a%20b', '/a b', '/\u00F1',
    '/\uD83D\uDCA9', '/a\\b', '\\a', '/a\tb', '/a\nb', '/a\rb', '/a^b', '/{}', '/a|b', '/C:/x', '/C|/x',
    "/'\"<>`", '/~!$&()*+,;=:@[]'];
  const tails = ['', '?', '?q=abc', '?q=abc&r=%C3%A9', "?a'b", '?a b', '?a"b', '?a<b>', '?a`b', '?a#b', '?\u00F1',
    '?%zz', '#', '#f', '#a b', '#a#b', '#a`b', '#\u00F1', '?q\t=1', '?q=1#f?g'];
  const out = [];
  // Every scheme and host with a few of the rest, then every path and tail
  // with a few schemes and hosts: each edge meets the others' usual values.
  for (const scheme of schemes) {
    for (const host of hosts) {
      for (const port of ports) out.push(`${scheme}${host}${port}/json?q=abc`);
      for (const path of paths) out.push(`${scheme}${host}${path}`);
    }
  }
  for (const host of ['example.com', '127.0.0.1', 'EXAMPLE.com']) {
    for (const port of ['', ':80', ':8080']) {
      for (const path of paths) {
        for (const tail of tails) out.push(`https://${host}${port}${path}${tail}`, `http://${host}${port}${path}${tail}`);
      }
    }
  }
  // trailing and leading C0 controls and spaces, which the state machine trims
  out.push('http://h/ ', 'http://h/\u0000', 'http://h/x\u001F', '\u0001http://h/', 'http://h/?q ', 'http://h/#f\t');
  return out;
})();

// The error's kind only: its message quotes the input.
const errorName = (e) => (e instanceof Error ? e.name : `threw ${String(e)}`);

function attributesOf(input, base) {
  let url;
  try {
    url = base === undefined ? new URL(input) : new URL(input, base);
  } catch (e) {
    return errorName(e);
  }
  const got = {};
  for (const name of ATTRIBUTES) got[name] = url[name];
  got.searchParams = url.searchParams.toString();
  // a record the fast path built must take the setters as the state machine's does
  url.pathname = url.pathname + '/more';
  got.pathnameSetter = url.href;
  return got;
}

function sameBothWays(report, input, base) {
  const fast = attributesOf(input, base);
  const slow = attributesOf(` ${input}`, base);
  check(report, JSON.stringify(fast) === JSON.stringify(slow), { input, base: base ?? null, fast, slow });
  // request.url takes a shortcut for URLs that are their own serialisation
  if (base === undefined) {
    const requestURL = (u) => {
      try {
        return new Request(u).url;
      } catch (e) {
        return errorName(e);
      }
    };
    const viaRequest = requestURL(input);
    const viaRequestSlow = requestURL(` ${input}`);
    check(report, viaRequest === viaRequestSlow, { input, check: 'new Request(input).url', fast: viaRequest, slow: viaRequestSlow });
  }
  let hrefSetter;
  let hrefSetterSlow;
  const setHref = (value) => {
    try {
      const url = new URL('about:blank');
      url.href = value;
      return url.href;
    } catch (e) {
      return errorName(e);
    }
  };
  if (base === undefined) {
    hrefSetter = setHref(input);
    hrefSetterSlow = setHref(` ${input}`);
    check(report, hrefSetter === hrefSetterSlow, { input, check: 'href setter', fast: hrefSetter, slow: hrefSetterSlow });
  }
}

function runFastPath(report) {
  for (const file of ['urltestdata', 'urltestdata-javascript-only']) {
    for (const test of DATA[file]) {
      if (typeof test === 'string') continue;
      sameBothWays(report, test.input, test.base == null ? undefined : test.base);
    }
  }
  for (const test of DATA.toascii) {
    if (typeof test !== 'string') sameBothWays(report, `https://${test.input}/x`);
  }
  for (const input of FAST_PATH_EDGES) {
    sameBothWays(report, input);
    sameBothWays(report, input, 'http://base.example/dir/file?bq#bf');
  }
  // Random inputs near the fast path's grammar, from a fixed seed.
  const ALPHABET = ['a', 'Z', '0', '9', '.', '..', '-', '_', ':', ':80', ':443', ':65536', '/', '//', '?', '#', '@',
    '[', ']', '%', '%2e', '%2E', '%41', '\\', ' ', '\t', '\n', "'", '"', '<', '>', '`', '^', '{', '}', '|', '~',
    '!', '$', '&', '=', '+', ';', '\u00F1', '\uD83D\uDCA9', '\u0000', '\u007F', '1.2.3.4', '0x7f', 'xn--'];
  const PREFIXES = ['http://', 'https://', 'http://example.com', 'https://127.0.0.1', 'http://h:8080/', 'http://h/p?'];
  let seed = 20261129;
  const next = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let i = 0; i < 20000; i++) {
    let input = PREFIXES[next(PREFIXES.length)];
    const parts = 1 + next(8);
    for (let j = 0; j < parts; j++) input += ALPHABET[next(ALPHABET.length)];
    sameBothWays(report, input);
  }
}

export default {
  fetch(request) {
    const which = new URL(request.url).searchParams.get('file');
    const report = newReport();
    const started = Date.now();
    switch (which) {
      case 'urltestdata': runURLTestData(DATA.urltestdata, report); break;
      case 'urltestdata-javascript-only': runURLTestData(DATA['urltestdata-javascript-only'], report); break;
      case 'setters': runSetters(DATA.setters, report); break;
      case 'toascii': runToASCII(DATA.toascii, report); break;
      case 'percent-encoding': runPercentEncoding(DATA['percent-encoding'], report); break;
      case 'searchparams': runSearchParams(report); break;
      case 'fastpath': runFastPath(report); break;
      default: return new Response(`unknown file ${which}\n`, { status: 404 });
    }
    report.ms = Date.now() - started;
    return Response.json(report);
  },
};
// ---- conformance tenant (end)
JS

my $data = join ",\n", map { qq{"$_": $json{$_}} } sort keys %json;
$t->put_script('conformance', 'url', "const DATA = {\n$data\n};\n$tenant");

for my $file (sort(keys %files), 'searchparams', 'fastpath') {
    my $r = $t->get("/?file=$file");
    is $r->{status}, 200, "$file: the tenant ran it" or do {
        diag $r->{content};
        diag $t->error_log;
        next;
    };
    my $report = JSON::PP->new->decode($r->{content});
    ok $report->{passed} > 0, "$file: $report->{passed} checks passed";
    is $report->{failed}, 0, "$file: no check failed"
        or diag(JSON::PP->new->pretty->canonical->encode($report->{failures}));
    is_deeply $report->{skips}, $expected_skips{$file} // {},
        "$file: " . ($report->{skipped} ? "skipped only the $report->{skipped} legacy-encoding rows" : 'nothing skipped')
        or diag explain $report->{skips};
}

done_testing;
