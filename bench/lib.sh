# Shell shared by bench/ scripts (sourced, not run): stopping processes by
# PID, free loopback ports, a private redis-server, a worker's CPU time and
# RSS. The caller defines die() and runs under `set -euo pipefail`.

bench_stop_pid() {   # bench_stop_pid PID SIGNAL: signal, wait up to 5 s, then KILL
  local pid=$1 sig=$2
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

bench_free_ports() {   # bench_free_ports N: N distinct free ports on 127.0.0.1
  perl -MIO::Socket::INET -e '
    my @s = map { IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                  Proto => "tcp", Listen => 1) or die "bind: $!\n" } 1..$ARGV[0];
    print join(" ", map { $_->sockport } @s), "\n";' "$1"
}

# bench_start_redis PORT DIR [CPU]: redis-server on 127.0.0.1:PORT, no
# persistence, its log in DIR (pinned to CPU when given); sets
# bench_redis_pid and returns once it answers PING.
bench_start_redis() {
  local port=$1 dir=$2 cpu=${3:-}
  local pin=()
  [ -z "$cpu" ] || pin=(taskset -c "$cpu")
  "${pin[@]}" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --daemonize no --logfile "$dir/redis.log" --dir "$dir" &
  bench_redis_pid=$!
  for _ in $(seq 50); do
    redis-cli -p "$port" PING >/dev/null 2>&1 && return 0
    kill -0 "$bench_redis_pid" 2>/dev/null || die "redis-server exited; see $dir/redis.log"
    sleep 0.1
  done
  die "redis-server does not answer on port $port"
}

bench_cpu_ticks() {   # utime + stime of a process (all its threads), in clock ticks
  # fields after "pid (comm) ": state is $1, utime $12, stime $13
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null
}

bench_rss_kb() {   # resident set size of a process, KB
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# The http-level temp paths nginx wants writable, all inside DIR.
bench_nginx_temp_paths() {
  local d=$1 t
  for t in client_body proxy fastcgi uwsgi scgi; do
    printf '    %s_temp_path %s/%s;\n' "$t" "$d" "$t"
  done
}
