#!/usr/bin/perl
# A real database driver over cloudflare:sockets: postgres (postgres.js,
# pinned in t/clients/package.json), whose Workers build imports
# cloudflare:sockets, bundled by the pinned wrangler with nodejs_compat and
# uploaded through the management API, against a real PostgreSQL (Debian's
# postgresql: initdb into a temporary directory, trust authentication, TLS
# with the test CA's certificate, on 127.0.0.1 and a port of its own, run
# as the postgres user and stopped by its PID). The Worker starts and
# answers a route that does not touch the database (postgres.js imports
# cloudflare:sockets with import() when it first connects, so this held on
# main too; a static import is t/62-sockets.t's); queries with parameters
# (on main: the import() rejected), a transaction, a result of 20000 rows,
# a server error; and ssl: 'require', which is PostgreSQL's STARTTLS
# (SSLRequest, then startTls()).
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
npm_tool_or_skip('postgres/package.json');
my ($PGBIN) = grep { -x "$_/postgres" } reverse sort glob('/usr/lib/postgresql/*/bin');
plan skip_all => "Debian's postgresql is not installed (scripts/setup-deps)" unless $PGBIN;
my $pguser = getpwnam('postgres');
plan skip_all => 'no postgres user to run PostgreSQL as' unless defined $pguser;
my $pggroup = (getpwnam('postgres'))[3];

# ---- PostgreSQL ----

my $pki = Dispatch::TestPKI->new;
my $P = $pki->dir;
$pki->make_ca('ca', 'dispatch test CA');
$pki->make_cert('db', 'ca', 'db.test', 'DNS:db.test', 'IP:127.0.0.1');

my $data = tempdir('dispatch-pg-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chown $pguser, $pggroup, $data;
sub as_postgres { return ('setpriv', "--reuid=$pguser", "--regid=$pggroup", '--clear-groups', @_) }
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
my $dir = tempdir('dispatch-pgapp-XXXXXX', TMPDIR => 1, CLEANUP => 1);
write_file("$dir/wrangler.toml", qq{name = "pgapp"\nmain = "src/index.js"\ncompatibility_date = "$DATE"\ncompatibility_flags = ["nodejs_compat"]\n});
write_file("$dir/src/index.js", qq{const PGPORT = $PGPORT;\n} . <<'JS');
import postgres from 'postgres';

const connect = (ssl) => postgres({ host: '127.0.0.1', port: PGPORT, user: 'test', database: 'postgres', ssl, max: 1 });

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === '/health') return new Response('up');
    const sql = connect(url.pathname === '/tls' ? 'require' : false);
    try {
      if (url.pathname === '/query') {
        const [row] = await sql`select ${41}::int + 1 as answer, ${'héllo'}::text as greeting`;
        return Response.json(row);
      }
      if (url.pathname === '/transaction') {
        const names = await sql.begin(async (tx) => {
          await tx`create temporary table pets (name text, legs int)`;
          await tx`insert into pets ${tx([{ name: 'cat', legs: 4 }, { name: 'bird', legs: 2 }])}`;
          return tx`select name from pets where legs > ${3} order by name`;
        });
        return Response.json(names.map((r) => r.name));
      }
      if (url.pathname === '/large') {
        const rows = await sql`select n, repeat('x', 50) as pad from generate_series(1, 20000) n`;
        return Response.json({ rows: rows.length, last: rows[rows.length - 1].n });
      }
      if (url.pathname === '/error') {
        try {
          await sql`select * from no_such_table`;
          return new Response('no error');
        } catch (e) {
          return new Response(`${e.code} ${e.message}`);
        }
      }
      if (url.pathname === '/tls') {
        const [row] = await sql`select ssl from pg_stat_ssl where pid = pg_backend_pid()`;
        return Response.json(row);
      }
      return new Response('no such route', { status: 404 });
    } finally {
      ctx.waitUntil(sql.end());
    }
  },
};
JS
symlink(npm_dir() . '/node_modules', "$dir/node_modules") or die "symlink: $!";
my ($result) = wrangler_dry_runs($WRANGLER, [$dir], 90);
is $result->[0], 0, 'wrangler bundles the postgres.js app' or diag $result->[1];
my $bundle = do { local $/; open my $b, '<', "$dir/out/index.js" or die "no bundle"; <$b> };
like $bundle, qr/cloudflare:sockets/, "the bundle imports cloudflare:sockets (postgres.js's Workers build)";

my $t = apps_server(http => qq{
    dispatch_fetch_allow 127.0.0.1/32:$PGPORT;
    dispatch_fetch_trusted_certificate $P/ca.pem;});
envelope_ok(api($t, POST => '', json => { name => 'apps' }), 'a namespace for the app');
envelope_ok(curl_upload($t, 'apps', 'pgapp',
    metadata => { main_module => 'index.js', compatibility_date => $DATE, compatibility_flags => ['nodejs_compat'] },
    files => [[ 'index.js', 'index.js', 'application/javascript+module', $bundle ]]), 'pgapp uploads');
sub on { my ($path) = @_; return $t->request('GET', $path, timeout => 20, host => 'pgapp.test') }

my $r = on('/health');
is "$r->{status} $r->{content}", '200 up', 'the Worker starts and answers a route that does not use the database';
$r = on('/query');
is_deeply eval { decode_json($r->{content}) }, { answer => 42, greeting => "h\x{e9}llo" },
    'a query with parameters, over a socket to PostgreSQL' or diag "$r->{status} $r->{content}";
$r = on('/transaction');
is_deeply eval { decode_json($r->{content}) }, ['cat'], 'a transaction: create, insert, select' or diag "$r->{status} $r->{content}";
$r = on('/large');
is_deeply eval { decode_json($r->{content}) }, { rows => 20000, last => 20000 }, 'a result of 20000 rows (about 1.3 MB)'
    or diag "$r->{status} $r->{content}";
$r = on('/error');
like $r->{content}, qr/^42P01 relation "no_such_table" does not exist/, "the server's error reaches the script";
$r = on('/tls');
is_deeply eval { decode_json($r->{content}) }, { ssl => JSON::PP::true() },
    "ssl: 'require': SSLRequest, then startTls() to PostgreSQL's certificate (the test CA)" or diag "$r->{status} $r->{content}";

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
$t->stop;
kill 'INT', $pg;
waitpid $pg, 0;
$pg = 0;
done_testing;
