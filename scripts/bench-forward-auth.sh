#!/usr/bin/env bash
# Forward-auth throughput against a bare hyper "hello" server, in one run, same build,
# same machine (issue #7 item 5). Needs wrk (Debian package `wrk`).
#
#   ./scripts/bench-forward-auth.sh     # 3 rounds of 10 s each, 2 wrk threads, 32 connections
#   BENCH_ROUNDS=5 BENCH_SECONDS=30 BENCH_CONNECTIONS=64 ./scripts/bench-forward-auth.sh
#
# Both servers are warmed up first (2 s each); then each round measures the forward-auth
# endpoint and the hello server back to back, so a burst of load from elsewhere on the
# machine hits one round rather than one server. Prints every round, the median ratio, and
# the exact wrk commands (for BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${BENCH_SECONDS:-10}"
threads="${BENCH_THREADS:-2}"
connections="${BENCH_CONNECTIONS:-32}"
rounds="${BENCH_ROUNDS:-3}"

if ! command -v wrk >/dev/null; then
  echo "wrk is not installed: apt-get install wrk" >&2
  exit 1
fi

cargo build --release -q -p hubauth --bin hubauth
cargo build --release -q -p hubauth-server --example hello_server
target="${CARGO_TARGET_DIR:-target}/release"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hub_port="$(free_port)"
hello_port="$(free_port)"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/hubauth.toml" <<TOML
[Hub]
authenticator_class = "dummy"
bind_url = "http://127.0.0.1:$hub_port"
db_url = "sqlite:///$work/hub.sqlite"
cookie_secret_file = "$work/cookie_secret"
login_rate_limit = 0
session_cache_ttl = ${BENCH_SESSION_CACHE_TTL:-5}
TOML

HUBAUTH_LOG=warn "$target/hubauth" serve --config "$work/hubauth.toml" 2>"$work/hub.log" &
pids+=($!)
"$target/examples/hello_server" "127.0.0.1:$hello_port" 2>"$work/hello.log" &
pids+=($!)

for _ in $(seq 100); do
  if curl -fs "http://127.0.0.1:$hub_port/hub/health" >/dev/null &&
     curl -fs "http://127.0.0.1:$hello_port/" >/dev/null; then
    break
  fi
  sleep 0.1
done

# Log in once (DummyAuthenticator) and keep the session cookie.
jar="$work/cookies"
xsrf="$(curl -fs -c "$jar" -b "$jar" "http://127.0.0.1:$hub_port/hub/login" |
  sed -n 's/.*name="_xsrf" value="\([^"]*\)".*/\1/p' | head -1)"
curl -fs -o /dev/null -c "$jar" -b "$jar" \
  --data-urlencode "_xsrf=$xsrf" --data-urlencode "username=bench" --data-urlencode "password=x" \
  "http://127.0.0.1:$hub_port/hub/login"
session="$(awk '$6 == "hubauth-session" { print $7 }' "$jar")"
if [ -z "$session" ]; then
  echo "login failed; hub log:" >&2
  cat "$work/hub.log" >&2
  exit 1
fi
status="$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: hubauth-session=$session" \
  "http://127.0.0.1:$hub_port/hub/forward-auth")"
[ "$status" = 200 ] || { echo "forward-auth answered $status, not 200" >&2; exit 1; }

run() { # label, wrk args...
  local label="$1"; shift
  echo "== $label: wrk $*" >&2
  wrk "$@" | tee "$work/$label.txt" >&2
  awk '/^Requests\/sec:/ { print $2 }' "$work/$label.txt"
}

fa_cmd=(-t"$threads" -c"$connections" -d"${seconds}s" -H "Cookie: hubauth-session=SESSION" "http://127.0.0.1:$hub_port/hub/forward-auth")
hello_cmd=(-t"$threads" -c"$connections" -d"${seconds}s" "http://127.0.0.1:$hello_port/")

wrk -t"$threads" -c"$connections" -d2s -H "Cookie: hubauth-session=$session" \
  "http://127.0.0.1:$hub_port/hub/forward-auth" >/dev/null
wrk -t"$threads" -c"$connections" -d2s "http://127.0.0.1:$hello_port/" >/dev/null

echo
echo "| round | hub/forward-auth (session_cache_ttl = ${BENCH_SESSION_CACHE_TTL:-5}) | bare hyper hello | ratio |"
echo "|---|---|---|---|"
ratios=()
for round in $(seq "$rounds"); do
  fa_rps="$(run forward-auth -t"$threads" -c"$connections" -d"${seconds}s" \
    -H "Cookie: hubauth-session=$session" "http://127.0.0.1:$hub_port/hub/forward-auth")"
  non2xx="$(awk '/Non-2xx/ { print $5 }' "$work/forward-auth.txt")"
  [ -z "$non2xx" ] || echo "WARNING: forward-auth answered $non2xx non-2xx responses"
  hello_rps="$(run hello "${hello_cmd[@]}")"
  ratio="$(awk -v a="$fa_rps" -v b="$hello_rps" 'BEGIN { printf "%.2f", a / b }')"
  ratios+=("$ratio")
  printf '| %s | %.0f | %.0f | %s |\n' "$round" "$fa_rps" "$hello_rps" "$ratio"
done
median="$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
echo
echo "median ratio forward-auth / hello over $rounds rounds: $median"
echo "commands: wrk ${fa_cmd[*]}"
echo "          wrk ${hello_cmd[*]}"
