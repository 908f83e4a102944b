#!/usr/bin/env bash
# Starts the topology of docker-compose.yml natively, without Docker: a real PostgreSQL (the record of
# rooms and messages) and redis-server, two chat nodes sharing them (and one signing key), and nginx
# in front of them when nginx is installed. The database lives in the run's folder and goes with it.
# Everything listens on 127.0.0.1 only.
#
#   scripts/cluster.sh            start, print the URLs, run until Ctrl+C or SIGTERM, then stop everything
#   scripts/cluster.sh --check    start, check that GET /health answers 200 on every node (and through nginx), stop
#   options: --build (rebuild the server first), --no-nginx
#
# Ports (environment): CLUSTER_POSTGRES_PORT (5433), CLUSTER_REDIS_PORT (6390), CLUSTER_NODE1_PORT (5101), CLUSTER_NODE2_PORT (5102),
# CLUSTER_PROXY_PORT (5100, nginx). CHAT_SIGNING_KEY sets the nodes' shared key (one is generated otherwise).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
server_dir="$root/src/SignalRChat.Server"
dll="$server_dir/bin/Debug/net10.0/SignalRChat.Server.dll"

redis_port=${CLUSTER_REDIS_PORT:-6390}
postgres_port=${CLUSTER_POSTGRES_PORT:-5433}
node_ports=("${CLUSTER_NODE1_PORT:-5101}" "${CLUSTER_NODE2_PORT:-5102}")
proxy_port=${CLUSTER_PROXY_PORT:-5100}

mode=run
build=false
use_nginx=true
for arg in "$@"; do
  case $arg in
    --check) mode=check ;;
    --build) build=true ;;
    --no-nginx) use_nginx=false ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

fail() { echo "cluster.sh: $*" >&2; exit 1; }

command -v redis-server >/dev/null 2>&1 || fail "redis-server is not installed (Debian: apt-get install redis-server)"
command -v redis-cli >/dev/null 2>&1 || fail "redis-cli is not installed (Debian: apt-get install redis-tools)"
command -v dotnet >/dev/null 2>&1 || fail "dotnet is not installed (the .NET 10 SDK)"
# Debian keeps PostgreSQL's programs in /usr/lib/postgresql/<version>/bin.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || pg_bin=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
[ -x "$pg_bin/initdb" ] || fail "PostgreSQL is not installed (Debian: apt-get install postgresql)"
# Debian puts nginx in /usr/sbin, which is not on an ordinary user's PATH.
nginx_bin=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
if $use_nginx && [ -z "$nginx_bin" ]; then
  use_nginx=false
  echo "nginx is not installed: starting the nodes without it (Debian: apt-get install nginx)"
fi
for port in "$postgres_port" "$redis_port" "${node_ports[@]}" $($use_nginx && echo "$proxy_port"); do
  [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || fail "'$port' is not a port number"
done

if $build || [ ! -f "$dll" ]; then
  echo "building the server (dotnet build src/SignalRChat.Server)"
  dotnet build "$server_dir" --verbosity quiet -clp:ErrorsOnly -nologo >&2 || fail "the server did not build"
fi

# True when something already accepts connections on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The status code of GET http://127.0.0.1:$1$2, or 000 when nothing answers. Plain bash, so that
# neither the script nor its check needs curl.
http_status() {
  local line=""
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || { echo 000; return; }
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$2" "$1" >&3
  IFS= read -r -t 5 line <&3 || true
  exec 3<&- 3>&-
  line=${line#HTTP/1.? }
  line=${line%% *}
  echo "${line:-000}"
}

for port in "$postgres_port" "$redis_port" "${node_ports[@]}" $($use_nginx && echo "$proxy_port"); do
  ! listening "$port" || fail "port $port on 127.0.0.1 is in use (choose others with CLUSTER_POSTGRES_PORT, CLUSTER_REDIS_PORT, CLUSTER_NODE1_PORT, CLUSTER_NODE2_PORT, CLUSTER_PROXY_PORT)"
done

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/signalrchat-cluster.XXXXXX")
names=()
pids=()

# Children run in their own session (setsid), so a Ctrl+C in the terminal reaches only this script,
# which then stops them in order: nginx, the nodes (they may drain running replies and write their
# last changes), Redis, PostgreSQL last.
spawn() {
  local name=$1 log="$run_dir/$1.log"
  shift
  if command -v setsid >/dev/null 2>&1; then
    setsid "$@" </dev/null >"$log" 2>&1 &
  else
    "$@" </dev/null >"$log" 2>&1 &
  fi
  names+=("$name")
  pids+=($!)
}

show_logs() {
  local name
  for name in "${names[@]}"; do
    echo "--- last lines of $name.log" >&2
    tail -n 20 "$run_dir/$name.log" >&2 || true
  done
}

stopping=false
stop_all() {
  $stopping && return
  stopping=true
  local i pid deadline
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    # A node given SIGTERM finishes or cancels its running replies first (the host's shutdown
    # timeout is 30 s); only then does it get SIGKILL.
    deadline=$((SECONDS + 40))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$run_dir"
}

trap 'stop_all' EXIT
trap 'echo; echo "stopping"; stop_all; exit 0' INT TERM

# Waits up to 30 s for "$@" to succeed while process $1 lives; false if it died or time ran out.
wait_until() {
  local name=$1 pid=$2 deadline=$((SECONDS + 30))
  shift 2
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "cluster.sh: $name exited during start" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "cluster.sh: $name did not get ready within 30 s" >&2
      return 1
    fi
    sleep 0.1
  done
}

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ]; }
healthy() { [ "$(http_status "$1" /health)" = 200 ]; }

# PostgreSQL refuses to run as root: as root, it runs as the system user signalrchat (created when missing).
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id -u signalrchat >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin signalrchat
  chmod 711 "$run_dir"
  mkdir -p "$run_dir/pg"
  chown "$(id -u signalrchat):$(id -g signalrchat)" "$run_dir/pg"
  as_pg=(setpriv --reuid="$(id -u signalrchat)" --regid="$(id -g signalrchat)" --clear-groups --)
fi
"${as_pg[@]}" "$pg_bin/initdb" -D "$run_dir/pg/data" -U postgres -A trust -E UTF8 --no-instructions >"$run_dir/initdb.log" 2>&1 ||
  { cat "$run_dir/initdb.log" >&2; fail "initdb failed"; }
postgres_ready() { "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$postgres_port"; }
spawn postgres "${as_pg[@]}" "$pg_bin/postgres" -D "$run_dir/pg/data" -k "$run_dir/pg" -p "$postgres_port" -h 127.0.0.1
wait_until postgres "${pids[0]}" postgres_ready || { show_logs; exit 1; }

spawn redis redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$run_dir"
wait_until redis "${pids[1]}" redis_ready || { show_logs; exit 1; }

# Every node must accept the others' tokens, so they share one key.
signing_key=${CHAT_SIGNING_KEY:-$(head -c 48 /dev/urandom | base64 | tr -d '\n')}
# Behind nginx (which connects from 127.0.0.1) the nodes read the client address it forwards.
proxy_env=()
if $use_nginx; then
  proxy_env=(Chat__Proxy__KnownProxies__0=127.0.0.1)
fi
for i in "${!node_ports[@]}"; do
  spawn "node$((i + 1))" env \
    ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Production}" \
    ConnectionStrings__Redis="127.0.0.1:$redis_port" \
    Chat__Storage__Provider=Postgres \
    ConnectionStrings__Postgres="Host=127.0.0.1;Port=$postgres_port;Username=postgres;Database=postgres" \
    Chat__Auth__SigningKey="$signing_key" \
    Chat__Auth__AllowGuests=true \
    "${proxy_env[@]}" \
    dotnet "$dll" --urls "http://127.0.0.1:${node_ports[i]}" --contentRoot "$server_dir"
done

if $use_nginx; then
  # deploy/nginx.conf itself, pointed at the local nodes, with its files in the run directory.
  mkdir -p "$run_dir/nginx"
  temp_paths="client_body_temp_path $run_dir/nginx/body; proxy_temp_path $run_dir/nginx/proxy; fastcgi_temp_path $run_dir/nginx/fastcgi; uwsgi_temp_path $run_dir/nginx/uwsgi; scgi_temp_path $run_dir/nginx/scgi;"
  sed -e "s/server chat1:8080 /server 127.0.0.1:${node_ports[0]} /" \
    -e "s/server chat2:8080 /server 127.0.0.1:${node_ports[1]} /" \
    -e "s/listen 8080;/listen 127.0.0.1:$proxy_port;/" \
    -e "s/worker_processes auto;/worker_processes 1;/" \
    -e "s/worker_connections [0-9]*;/worker_connections 512;/" \
    -e "s|^http {|http {\n    $temp_paths|" \
    "$root/deploy/nginx.conf" >"$run_dir/nginx.conf"
  if grep -qE 'chat[12]:8080|listen 8080;' "$run_dir/nginx.conf" || ! grep -q "client_body_temp_path" "$run_dir/nginx.conf"; then
    fail "deploy/nginx.conf no longer has the lines this script rewrites (server chat1:8080, server chat2:8080, listen 8080, http {)"
  fi
  nginx_args=(-p "$run_dir/nginx/" -e "$run_dir/nginx-error.log" -c "$run_dir/nginx.conf" -g "pid $run_dir/nginx.pid; daemon off;")
  # Output to a file: the configuration logs to /dev/stdout and /dev/stderr, which nginx reopens by name.
  "$nginx_bin" -t -q "${nginx_args[@]}" >"$run_dir/nginx-test.log" 2>&1 || { cat "$run_dir/nginx-test.log" >&2; fail "nginx rejected the configuration"; }
fi

for i in "${!node_ports[@]}"; do
  wait_until "node$((i + 1))" "${pids[i + 2]}" healthy "${node_ports[i]}" || { show_logs; exit 1; }
done

if $use_nginx; then
  spawn nginx "$nginx_bin" "${nginx_args[@]}"
  wait_until nginx "${pids[-1]}" healthy "$proxy_port" || { show_logs; exit 1; }
fi

echo "logs    $run_dir"
echo "postgres 127.0.0.1:$postgres_port (user postgres, database postgres)"
echo "redis   127.0.0.1:$redis_port"
for i in "${!node_ports[@]}"; do
  echo "node$((i + 1))   http://127.0.0.1:${node_ports[i]}"
done
if $use_nginx; then
  echo "nginx   http://127.0.0.1:$proxy_port   (the chat page: http://127.0.0.1:$proxy_port/?room=lobby&name=alice)"
fi

if [ "$mode" = check ]; then
  status=0
  for port in "${node_ports[@]}" $($use_nginx && echo "$proxy_port"); do
    code=$(http_status "$port" /health)
    echo "GET http://127.0.0.1:$port/health -> $code"
    [ "$code" = 200 ] || status=1
  done
  if ((status == 0)); then echo "check passed"; else show_logs; echo "check failed"; fi
  exit "$status"
fi

echo "ready (logs in $run_dir); Ctrl+C stops the cluster"
# Returns when a child exits on its own (a trapped signal interrupts it and runs the trap).
set +e
wait -n "${pids[@]}"
for i in "${!pids[@]}"; do
  kill -0 "${pids[i]}" 2>/dev/null || echo "cluster.sh: ${names[i]} stopped unexpectedly" >&2
done
show_logs
exit 1
