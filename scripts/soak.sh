#!/usr/bin/env bash
# Soak test: a real redis-server and two chat nodes on 127.0.0.1 (free ports), then the soak
# program (tools/SignalRChat.Soak, on the .NET client) runs many rooms with replies, Stops, queued
# replies, dropped connections and resumes for a set time. It reports any lost or doubled token,
# breaks in seq order, each node's memory growth (VmRSS) and errors; the nodes' logs are searched
# for errors too. Exits non-zero when anything was lost, doubled or failed.
#
#   scripts/soak.sh                      the full soak: 10 minutes
#   scripts/soak.sh --duration 120s      the version ./test.sh runs
#   options: --duration D (s, m, h), --rooms N, --members N, --cancel SHARE, --drop-every D, --seed N,
#            --build (build the server and the soak program first), --keep-logs
#
# Replies stream at SOAK_TOKEN_DELAY_MS (default 5) per token, SOAK_REPLY_TOKENS (default 80) long.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
server_dir="$root/src/SignalRChat.Server"
server_dll="$server_dir/bin/Debug/net10.0/SignalRChat.Server.dll"
soak_project="$root/tools/SignalRChat.Soak"
soak_dll="$soak_project/bin/Debug/net10.0/SignalRChat.Soak.dll"

build=false
keep_logs=false
soak_args=()
has_duration=false
while (($#)); do
  case $1 in
    --build) build=true ;;
    --keep-logs) keep_logs=true ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --duration | --rooms | --members | --cancel | --drop-every | --seed)
      (($# >= 2)) || { echo "soak.sh: $1 needs a value" >&2; exit 2; }
      [ "$1" = --duration ] && has_duration=true
      soak_args+=("$1" "$2")
      shift ;;
    *) echo "soak.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
$has_duration || soak_args+=(--duration 10m)

fail() { echo "soak.sh: $*" >&2; exit 1; }
command -v redis-server >/dev/null 2>&1 || fail "redis-server is not installed (Debian: apt-get install redis-server)"
command -v dotnet >/dev/null 2>&1 || fail "dotnet is not installed (the .NET 10 SDK)"

if $build || [ ! -f "$server_dll" ]; then
  dotnet build "$server_dir" --verbosity quiet -clp:ErrorsOnly -nologo >&2 || fail "the server did not build"
fi
if $build || [ ! -f "$soak_dll" ]; then
  dotnet build "$soak_project" --verbosity quiet -clp:ErrorsOnly -nologo -p:SkipChatPage=true >&2 || fail "the soak program did not build"
fi

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nothing listens on, from a range the system does not hand out for outgoing connections.
free_port() {
  local port tries=0
  while ((tries++ < 200)); do
    port=$((20000 + RANDOM % 12000))
    if ! listening "$port" && [[ " ${taken[*]-} " != *" $port "* ]]; then
      taken+=("$port")
      echo "$port"
      return
    fi
  done
  fail "no free port found on 127.0.0.1"
}

taken=()
redis_port=$(free_port); taken+=("$redis_port")
node_ports=("$(free_port)"); taken+=("${node_ports[0]}")
node_ports+=("$(free_port)")

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/signalrchat-soak.XXXXXX")
pids=()
stop_all() {
  local i pid deadline
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    deadline=$((SECONDS + 40))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
  if $keep_logs; then echo "logs kept in $run_dir"; else rm -rf "$run_dir"; fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$run_dir" >"$run_dir/redis.log" 2>&1 &
pids+=($!)

# The per-user limits are opened wide: the soak's members send far more than people do.
signing_key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
for i in 0 1; do
  env ASPNETCORE_ENVIRONMENT=Production \
    ConnectionStrings__Redis="127.0.0.1:$redis_port" \
    Chat__Auth__SigningKey="$signing_key" \
    Chat__Auth__AllowGuests=true \
    Chat__Limits__MessagesPerMinute=100000 \
    Chat__Limits__DailyTokensPerUser=0 \
    Chat__Limits__DailyTokensPerAddress=0 \
    Chat__Limits__GuestSignInsPerMinute=0 \
    Chat__Offline__TokenDelayMs="${SOAK_TOKEN_DELAY_MS:-5}" \
    Chat__Offline__ReplyTokens="${SOAK_REPLY_TOKENS:-80}" \
    Chat__Storage__Provider=Memory \
    Logging__LogLevel__Default=Warning \
    dotnet "$server_dll" --urls "http://127.0.0.1:${node_ports[i]}" --contentRoot "$server_dir" >"$run_dir/node$((i + 1)).log" 2>&1 &
  pids+=($!)
done

# GET /health/ready, in plain bash: the status code, or 000 when nothing answers.
ready_status() {
  local line=""
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || { echo 000; return; }
  printf 'GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" >&3
  IFS= read -r -t 5 line <&3 || true
  exec 3<&- 3>&-
  line=${line#HTTP/1.? }
  echo "${line%% *}"
}

for i in 0 1; do
  deadline=$((SECONDS + 60))
  until [ "$(ready_status "${node_ports[i]}")" = 200 ]; do
    kill -0 "${pids[i + 1]}" 2>/dev/null || { cat "$run_dir/node$((i + 1)).log" >&2; fail "node$((i + 1)) exited during start"; }
    ((SECONDS < deadline)) || { cat "$run_dir/node$((i + 1)).log" >&2; fail "node$((i + 1)) was not ready within 60 s"; }
    sleep 0.2
  done
done
echo "redis 127.0.0.1:$redis_port, node1 http://127.0.0.1:${node_ports[0]} (pid ${pids[1]}), node2 http://127.0.0.1:${node_ports[1]} (pid ${pids[2]})"

dotnet "$soak_dll" --node "http://127.0.0.1:${node_ports[0]}@${pids[1]}" --node "http://127.0.0.1:${node_ports[1]}@${pids[2]}" "${soak_args[@]}"
status=$?

for i in 0 1; do
  if ! kill -0 "${pids[i + 1]}" 2>/dev/null; then
    echo "node$((i + 1)) stopped during the soak"
    status=1
  fi
done

# Errors the nodes logged (the console logger writes "fail:" and "crit:").
# Not counted: SignalR's own "Failed writing message. Aborting connection." with a cancelled write, which is what a
# connection the soak drops on purpose logs when the drop lands in the middle of a write (nothing is lost: Resume follows).
node_errors=$(cat "$run_dir/node1.log" "$run_dir/node2.log" | awk '
  /^(fail|crit):/ { if (pending) errors++; pending = 1; header = NR; benign = 0; next }
  pending && NR == header + 1 && /Failed writing message\. Aborting connection\./ { benign = 1; next }
  pending && NR == header + 2 { if (!(benign && /TaskCanceledException/)) errors++; pending = 0; next }
  END { if (pending) errors++; print errors + 0 }')
echo "errors in the nodes' logs: $node_errors"
if ((node_errors > 0)); then
  grep -hE -A3 '^(fail|crit):' "$run_dir/node1.log" "$run_dir/node2.log" | head -n 40
  status=1
fi

if ((status == 0)); then echo "soak.sh: passed"; else echo "soak.sh: FAILED"; fi
exit "$status"
