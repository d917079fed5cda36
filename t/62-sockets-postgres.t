#!/usr/bin/perl
# Real database drivers over cloudflare:sockets: postgres (postgres.js) and
# pg with pg-cloudflare (node-postgres), pinned in t/clients/package.json,
# whose Workers builds import cloudflare:sockets, each bundled by the pinned
# wrangler with nodejs_compat and uploaded through the management API,
# against a real PostgreSQL (Debian's postgresql: initdb into a temporary
# directory, trust authentication, TLS with the test CA's certificate, on
# 127.0.0.1 and a port of its own, run as the postgres user and stopped by
# its PID). Each Worker starts and answers a route that does not touch the
# database (both drivers import cloudflare:sockets with import() when they
# first connect, so this held on main too; a static import is
# t/62-sockets.t's); queries with parameters (on main: the import()
# rejected), a transaction, a result of 20000 rows, a server error; and TLS
# required, which is PostgreSQL's STARTTLS (SSLRequest, then startTls()).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use Dispatch::TestPKI;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time sleep);

my $WRANGLER = npm_tool_or_skip('.bin/wrangler');
npm_tool_or_skip("$_/package.json") for qw(postgres pg pg-cloudflare);
my ($PGBIN) = grep { -x "$_/postgres" } reverse sort glob('/usr/lib/postgresql/*/bin');
plan skip_all => "Debian's postgresql is not installed (scripts/setup-deps)" unless $PGBIN;
# PostgreSQL refuses to run as root: as root, the tests run it as the
# postgres user; otherwise as whoever runs them.
my ($pguser, $pggroup) = ($>, $) + 0);
if ($> == 0) {
    ($pguser, $pggroup) = (getpwnam('postgres'))[2, 3];
    plan skip_all => 'no postgres user to run PostgreSQL as' unless defined $pguser;
}

# ---- PostgreSQL ----

my $pki = Dispatch::TestPKI->new;
my $P = $pki->dir;
$pki->make_ca('ca', 'dispatch test CA');
$pki->make_cert('db', 'ca', 'db.test', 'DNS:db.test', 'IP:127.0.0.1');

my $data = tempdir('dispatch-pg-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chown $pguser, $pggroup, $data;
sub as_postgres { return $> == 0 ? ('setpriv', "--reuid=$pguser", "--regid=$pggroup", '--clear-groups', @_) : @_ }
my $out = `@{[ join ' ', as_postgres("$PGBIN/initdb", '-D', "$data/db", '-A', 'trust', '-U', 'test', '--no-sync') ]} 2>&1`;
is $?, 0, 'initdb' or diag $out;
for my $f (qw(db.pem db.key)) {
    system('cp', "$P/$f", "$data/db/$f") == 0 or die "cp $f";
    chown $pguser, $pggroup, "$data/db/$f";
    chmod 0600, "$data/db/$f";
}
my $PGPORT = Dispatch::Test::free_port;
my $pg = fork // die "fork: $!";
if (!$pg) {
    open STDOUT, '>', "$data/postgres.log";
    open STDERR, '>&', \*STDOUT;
    exec as_postgres("$PGBIN/postgres", '-D', "$data/db", '-k', $data, '-c', 'listen_addresses=127.0.0.1',
        '-p', $PGPORT, '-c', 'ssl=on', '-c', 'ssl_cert_file=db.pem', '-c', 'ssl_key_file=db.key',
        '-c', 'fsync=off', '-c', 'max_connections=20');
    exit 127;
}
END { if ($pg) { kill 'INT', $pg; waitpid $pg, 0 } }
my $until = time + 20;
sleep 0.1 until time > $until || IO::Socket::INET->new(PeerAddr => "127.0.0.1:$PGPORT", Timeout => 1);
ok time <= $until, 'PostgreSQL listens' or diag `cat $data/postgres.log`;

# ---- the Worker ----

my $DATE = '2025-09-01';
# Two apps, the same routes: postgres.js (pgjs) and pg with pg-cloudflare (pg).
my %APP = (
    pgjs => <<'JS',
import postgres from 'postgres';

const query = async (ssl, run) => {
  const sql = postgres({ host: '127.0.0.1', port: PGPORT, user: 'test', database: 'postgres', ssl, max: 1 });
  try {
    return await run({
      one: async (text, params) => (await sql.unsafe(text, params))[0],
      all: (text, params) => sql.unsafe(text, params),
      transaction: (fn) => sql.begin((tx) => fn({ all: (text, params) => tx.unsafe(text, params) })),
    });
  } finally {
    await sql.end();
  }
};
JS
    pg => <<'JS',
import pg from 'pg';

const query = async (ssl, run) => {
  const client = new pg.Client({ host: '127.0.0.1', port: PGPORT, user: 'test', database: 'postgres',
                                 ssl: ssl ? { rejectUnauthorized: true } : false });
  await client.connect();
  try {
    return await run({
      one: async (text, params) => (await client.query(text, params)).rows[0],
      all: async (text, params) => (await client.query(text, params)).rows,
      transaction: async (fn) => {
        await client.query('begin');
        const out = await fn({ all: async (text, params) => (await client.query(text, params)).rows });
        await client.query('commit');
        return out;
      },
    });
  } finally {
    await client.end();
  }
};
JS
);
my $ROUTES = <<'JS';
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/health') return new Response('up');
    return query(url.pathname === '/tls' ? 'require' : false, async (db) => {
      switch (url.pathname) {
        case '/query':
          return Response.json(await db.one('select $1::int + 1 as answer, $2::text as greeting', [41, 'héllo']));
        case '/transaction':
          return Response.json(await db.transaction(async (tx) => {
            await tx.all('create temporary table pets (name text, legs int)');
            await tx.all('insert into pets values ($1, $2), ($3, $4)', ['cat', 4, 'bird', 2]);
            return (await tx.all('select name from pets where legs > $1 order by name', [3])).map((r) => r.name);
          }));
        case '/large': {
          const rows = await db.all("select n, repeat('x', 50) as pad from generate_series(1, 20000) n");
          return Response.json({ rows: rows.length, last: rows[rows.length - 1].n });
        }
        case '/error':
          try {
            await db.all('select * from no_such_table');
            return new Response('no error');
          } catch (e) {
            return new Response(`${e.code} ${e.message}`);
          }
        case '/tls':
          return Response.json(await db.one('select ssl from pg_stat_ssl where pid = pg_backend_pid()'));
      }
      return new Response('no such route', { status: 404 });
    });
  },
};
JS
my (@dirs, @apps);
for my $app (sort keys %APP) {
    my $dir = tempdir("dispatch-$app-XXXXXX", TMPDIR => 1, CLEANUP => 1);
    write_file("$dir/wrangler.toml", qq{name = "$app"\nmain = "src/index.js"\ncompatibility_date = "$DATE"\ncompatibility_flags = ["nodejs_compat"]\n});
    write_file("$dir/src/index.js", "const PGPORT = $PGPORT;\n$APP{$app}\n$ROUTES");
    symlink(npm_dir() . '/node_modules', "$dir/node_modules") or die "symlink: $!";
    push @dirs, $dir;
    push @apps, $app;
}
my @results = wrangler_dry_runs($WRANGLER, \@dirs, 90);

my $t = apps_server(http => qq{
    dispatch_fetch_allow 127.0.0.1/32:$PGPORT;
    dispatch_fetch_trusted_certificate $P/ca.pem;});
envelope_ok(api($t, POST => '', json => { name => 'apps' }), 'a namespace for the apps');

for my $i (0 .. $#apps) {
    my $app = $apps[$i];
    is $results[$i][0], 0, "wrangler bundles the $app app" or diag $results[$i][1];
    my $bundle = do { local $/; open my $b, '<', "$dirs[$i]/out/index.js" or die "no bundle"; <$b> };
    like $bundle, qr/cloudflare:sockets/, "$app: the bundle imports cloudflare:sockets (the driver's Workers build)";
    envelope_ok(curl_upload($t, 'apps', $app,
        metadata => { main_module => 'index.js', compatibility_date => $DATE, compatibility_flags => ['nodejs_compat'] },
        files => [[ 'index.js', 'index.js', 'application/javascript+module', $bundle ]]), "$app uploads");
    my $on = sub { my ($path) = @_; return $t->request('GET', $path, timeout => 20, host => "$app.test") };

    my $r = $on->('/health');
    is "$r->{status} $r->{content}", '200 up', "$app: the Worker starts and answers a route that does not use the database";
    $r = $on->('/query');
    is_deeply eval { decode_json($r->{content}) }, { answer => 42, greeting => "h\x{e9}llo" },
        "$app: a query with parameters, over a socket to PostgreSQL" or diag "$r->{status} $r->{content}";
    $r = $on->('/transaction');
    is_deeply eval { decode_json($r->{content}) }, ['cat'], "$app: a transaction: create, insert, select"
        or diag "$r->{status} $r->{content}";
    $r = $on->('/large');
    is_deeply eval { decode_json($r->{content}) }, { rows => 20000, last => 20000 }, "$app: a result of 20000 rows (about 1.3 MB)"
        or diag "$r->{status} $r->{content}";
    $r = $on->('/error');
    like $r->{content}, qr/^42P01 relation "no_such_table" does not exist/, "$app: the server's error reaches the script";
    $r = $on->('/tls');
    is_deeply eval { decode_json($r->{content}) }, { ssl => JSON::PP::true() },
        "$app: ssl required: SSLRequest, then startTls() to PostgreSQL's certificate (the test CA)"
        or diag "$r->{status} $r->{content}";
}

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
$t->stop;
kill 'INT', $pg;
waitpid $pg, 0;
$pg = 0;
done_testing;
