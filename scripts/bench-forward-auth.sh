#!/usr/bin/env bash
# Forward-auth and REST API throughput against a bare hyper "hello" server, in one run, same
# build, same machine (issue #7 item 5, issue #18 item 4). Needs wrk (Debian package `wrk`,
# installed here when missing, as scripts/test.sh installs its packages).
#
#   ./scripts/bench-forward-auth.sh     # 3 rounds of 10 s each, 2 wrk threads, 32 connections
#   BENCH_ROUNDS=5 BENCH_SECONDS=30 BENCH_CONNECTIONS=64 ./scripts/bench-forward-auth.sh
#   BENCH_TARGETS="forward-auth" ./scripts/bench-forward-auth.sh   # only the gateway
#
# Targets (BENCH_TARGETS, default all three): `forward-auth` (the session cookie),
# `api-cookie` (`GET /hub/api/user` with the session cookie) and `api-token`
# (`GET /hub/api/user` with `Authorization: token ...`, a token made through the API).
# Every server is warmed up first (2 s each); then each round measures every target and
# the hello server back to back, so a burst of load from elsewhere on the machine hits one
# round rather than one server. Prints every round, the median ratio of each target, and
# the exact wrk commands (for BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${BENCH_SECONDS:-10}"
threads="${BENCH_THREADS:-2}"
connections="${BENCH_CONNECTIONS:-32}"
rounds="${BENCH_ROUNDS:-3}"

targets="${BENCH_TARGETS:-forward-auth api-cookie api-token}"

if ! command -v wrk >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "installing wrk (Debian package)" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk
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

# An API token for the same user, made through the API with the session (and the XSRF
# token of the login form, which the session's `_xsrf` cookie still matches).
token=""
case " $targets " in
  *" api-token "*)
    token="$(curl -fs -b "$jar" -H "X-XSRFToken: $xsrf" -H "Content-Type: application/json" \
      -d '{"note": "bench"}' "http://127.0.0.1:$hub_port/hub/api/users/bench/tokens" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
    [ -n "$token" ] || { echo "could not create an API token" >&2; exit 1; }
    ;;
esac

# wrk arguments of each target (the credential as given to wrk).
target_args() { # target
  case "$1" in
    forward-auth) echo "-H|Cookie: hubauth-session=$session|http://127.0.0.1:$hub_port/hub/forward-auth" ;;
    api-cookie) echo "-H|Cookie: hubauth-session=$session|http://127.0.0.1:$hub_port/hub/api/user" ;;
    api-token) echo "-H|Authorization: token $token|http://127.0.0.1:$hub_port/hub/api/user" ;;
    *) echo "unknown target $1" >&2; exit 1 ;;
  esac
}
redacted_args() { # target: the same with the credential left out, for the printed commands
  target_args "$1" | sed -e 's/hubauth-session=[^|]*/hubauth-session=SESSION/' -e 's/token [^|]*/token TOKEN/'
}

for target in $targets; do
  IFS='|' read -r -a args <<<"$(target_args "$target")"
  status="$(curl -s -o /dev/null -w '%{http_code}' "${args[0]}" "${args[1]}" "${args[2]}")"
  [ "$status" = 200 ] || { echo "$target answered $status, not 200" >&2; exit 1; }
  wrk -t"$threads" -c"$connections" -d2s "${args[@]}" >/dev/null
done
wrk -t"$threads" -c"$connections" -d2s "http://127.0.0.1:$hello_port/" >/dev/null

run() { # label, wrk args...
  local label="$1"; shift
  echo "== $label" >&2
  wrk "$@" | tee "$work/$label.txt" >&2
  awk '/^Requests\/sec:/ { print $2 }' "$work/$label.txt"
}

header="| round |"
rule="|---|"
for target in $targets; do header="$header $target |"; rule="$rule---|"; done
header="$header bare hyper hello |"
rule="$rule---|"
for target in $targets; do header="$header $target / hello |"; rule="$rule---|"; done
echo
echo "session_cache_ttl = ${BENCH_SESSION_CACHE_TTL:-5}"
echo "$header"
echo "$rule"
declare -A ratios
for round in $(seq "$rounds"); do
  declare -A rps=()
  for target in $targets; do
    IFS='|' read -r -a args <<<"$(target_args "$target")"
    rps[$target]="$(run "$target" -t"$threads" -c"$connections" -d"${seconds}s" "${args[@]}")"
    non2xx="$(awk '/Non-2xx/ { print $5 }' "$work/$target.txt")"
    [ -z "$non2xx" ] || echo "WARNING: $target answered $non2xx non-2xx responses"
  done
  hello_rps="$(run hello -t"$threads" -c"$connections" -d"${seconds}s" "http://127.0.0.1:$hello_port/")"
  line="| $round |"
  for target in $targets; do line="$line $(printf '%.0f' "${rps[$target]}") |"; done
  line="$line $(printf '%.0f' "$hello_rps") |"
  for target in $targets; do
    ratio="$(awk -v a="${rps[$target]}" -v b="$hello_rps" 'BEGIN { printf "%.2f", a / b }')"
    ratios[$target]="${ratios[$target]:-} $ratio"
    line="$line $ratio |"
  done
  echo "$line"
done
echo
for target in $targets; do
  median="$(printf '%s\n' ${ratios[$target]} | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
  echo "median ratio $target / hello over $rounds rounds: $median"
done
echo "commands:"
for target in $targets; do
  IFS='|' read -r -a args <<<"$(redacted_args "$target")"
  echo "  wrk -t$threads -c$connections -d${seconds}s ${args[0]} \"${args[1]}\" ${args[2]}"
done
echo "  wrk -t$threads -c$connections -d${seconds}s http://127.0.0.1:$hello_port/"
