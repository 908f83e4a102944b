#!/usr/bin/env bash
# Runs every test suite of SignalRChat and ends with one line: "N passed, N failed".
#   .NET    xunit: real Kestrel servers, the .NET SignalR client, redis-server, PostgreSQL, SQLite files, an OpenAI-wire server
#   JS      vitest: the stock @microsoft/signalr client and the TypeScript client against a real server
#   browser vitest + playwright-core driving Debian's chromium against the real page
#   soak    scripts/soak.sh for two minutes: Redis, two nodes, many rooms, Stops, drops and resumes
# Installs what is missing first: redis-server, postgresql, chromium, docker-compose and nginx (apt), client-js packages (npm ci), NuGet packages.
set -uo pipefail
cd "$(dirname "$0")"
root=$(pwd)
out="$root/.test-output"
rm -rf "$out"
mkdir -p "$out"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

say() { printf '\n== %s\n' "$*"; }

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
# The record's tests start a real PostgreSQL themselves (initdb into a temporary folder).
command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # RUNLEVEL=1: the packages' own services (redis on 6379, postgres on 5432, nginx on 80) are not started; the tests start their own on loopback.
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f client-js/node_modules/.package-lock.json ] || [ client-js/package-lock.json -nt client-js/node_modules/.package-lock.json ]; then
  say "npm ci (client-js)"
  (cd client-js && npm ci --no-audit --no-fund) || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
fi

say "dotnet restore and build"
if ! dotnet restore SignalRChat.sln --verbosity quiet || ! dotnet build SignalRChat.sln --no-restore --verbosity quiet -clp:ErrorsOnly; then
  echo "the build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

passed=0
failed=0
add() { passed=$((passed + $1)); failed=$((failed + $2)); printf '%s: %s passed, %s failed\n' "$3" "$1" "$2" >>"$out/summary.txt"; }

say ".NET tests"
dotnet test SignalRChat.sln --no-build --logger "trx;LogFileName=dotnet.trx" --results-directory "$out" --verbosity quiet -- RunConfiguration.TestSessionTimeout=2400000
trx=$(find "$out" -name 'dotnet.trx' | head -n 1)
if [ -n "$trx" ]; then
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  total=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")
  executed=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  # Tests that never ran (a crash or a timeout) count as failed.
  add "${p:-0}" $(( ${f:-0} + ${total:-0} - ${executed:-0} )) ".NET"
  # The failed tests by name, so the summary at the end of a CI log says which.
  grep -o '<UnitTestResult [^>]*outcome="Failed"[^>]*>' "$trx" | sed -n 's/.* testName="\([^"]*\)".*/  failed: \1/p' >>"$out/summary.txt" || true
else
  add 0 1 ".NET (no results: the test run crashed)"
fi

js_suite() {
  local name=$1 config=$2 report="$out/$1.json"
  say "$name tests"
  (cd client-js && npx vitest run --config "$config" --reporter=default --reporter=json --outputFile.json="$report")
  if [ -f "$report" ]; then
    # First line: passed and failed counts; then each failed test (or file that failed to load) by name.
    { read -r p f; failed_names=$(cat); } < <(node -e 'const r=require(process.argv[1]); const fileErrors=r.testResults.filter(t=>t.status==="failed"&&t.assertionResults.length===0); console.log(r.numPassedTests, r.numFailedTests+fileErrors.length); for (const t of fileErrors) console.log("  failed: "+t.name); for (const t of r.testResults) for (const a of t.assertionResults) if (a.status==="failed") console.log("  failed: "+a.fullName);' "$report")
    add "$p" "$f" "$name"
    [ -z "$failed_names" ] || printf '%s\n' "$failed_names" >>"$out/summary.txt"
  else
    add 0 1 "$name (no results: the run crashed)"
  fi
}
js_suite js vitest.config.ts
js_suite browser vitest.browser.config.ts

# Two minutes of the soak (scripts/soak.sh runs ten by default): one test, passed when nothing was lost, doubled or failed.
say "soak (2 minutes)"
if scripts/soak.sh --duration 120s 2>&1 | tee "$out/soak.log"; then
  add 1 0 soak
else
  add 0 1 soak
fi

say "summary"
cat "$out/summary.txt"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
