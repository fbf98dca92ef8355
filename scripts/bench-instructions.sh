#!/usr/bin/env bash
# Instruction counts (valgrind's callgrind) for one cached forward-auth check, one
# `GET /hub/api/user` (session cookie and API token) and one complete login against the
# development OpenID provider (issue #18 item 5; crates/cli/benches/instructions.rs says
# how they are counted). Unlike requests/s, these barely move with the machine's load, so a
# regression shows as a changed count. Installs valgrind (Debian package) when missing, as
# scripts/test.sh installs its packages.
#
#   ./scripts/bench-instructions.sh
#   BENCH_REPEAT=500 BENCH_LOGIN_REPEAT=50 ./scripts/bench-instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v dpkg >/dev/null 2>&1 && ! dpkg -s valgrind >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "installing valgrind (Debian package)" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq valgrind
fi

echo "command: BENCH_REPEAT=${BENCH_REPEAT:-200} BENCH_LOGIN_REPEAT=${BENCH_LOGIN_REPEAT:-20} cargo bench -p hubauth --bench instructions"
cargo bench -q -p hubauth --bench instructions
