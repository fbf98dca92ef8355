#!/usr/bin/env bash
# Runs every hubauth test from a clean clone. Installs what is missing first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# --- system packages -------------------------------------------------------------
apt_missing=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || apt_missing+=("$1"); }
if command -v dpkg >/dev/null 2>&1; then
  need_pkg pkg-config
  # Nothing from libpam is needed to build: PAMAuthenticator loads libpam.so.0 at run time.
  # Its tests load the run-time library (part of every Debian system; listed to be sure).
  need_pkg libpam0g
  # readelf, for the check that the binary does not link libpam (crates/cli/tests/external/shipping.rs).
  command -v readelf >/dev/null 2>&1 || need_pkg binutils
  # Headless Chromium for the page screenshots test (crates/cli/tests/external/browser_pages.rs).
  need_pkg chromium
  # PostgreSQL: a throwaway server for the store contract tests (see below).
  need_pkg postgresql
  # nginx fronts a tiny app in the forward-auth end-to-end test (auth_request).
  need_pkg nginx
  # Caddy fronts the same app with forward_auth (crates/cli/tests/external/caddy.rs).
  need_pkg caddy
  # OpenLDAP's server and tools for LDAPAuthenticator's tests (crates/cli/tests/external/ldap.rs);
  # each test runs its own slapd, so the package's own server stays unconfigured.
  need_pkg slapd
  need_pkg ldap-utils
  # Node.js runs the OpenID provider of the end-to-end test (e2e/oidc-provider).
  command -v node >/dev/null 2>&1 || need_pkg nodejs
  command -v npm >/dev/null 2>&1 || need_pkg npm
  # Python's venv (with pip) holds real JupyterHub for its end-to-end test.
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_pkg python3-venv
  if [ "${#apt_missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${apt_missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    if command -v debconf-set-selections >/dev/null 2>&1; then
      echo "slapd slapd/no_configuration boolean true" | $sudo_cmd debconf-set-selections
    fi
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${apt_missing[@]}"
  fi
fi

# Python's `cryptography` makes Fernet tokens for the interoperability tests.
if ! python3 -c 'import cryptography.fernet' >/dev/null 2>&1; then
  log "installing Python's cryptography package"
  python3 -m pip install --quiet cryptography
fi

# The end-to-end test's OpenID provider: the npm package oidc-provider, pinned by
# e2e/oidc-provider/package-lock.json. Reinstalled when node_modules is missing or was
# installed from another lock file.
op_dir=e2e/oidc-provider
op_stamp="$op_dir/node_modules/.hubauth-lock-sha256"
op_lock_sum="$(sha256sum "$op_dir/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$op_stamp" ] || [ "$(cat "$op_stamp")" != "$op_lock_sum" ]; then
  log "installing the end-to-end test's OpenID provider (npm ci in $op_dir)"
  (cd "$op_dir" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$op_lock_sum" >"$op_stamp"
fi

# The browser test's driver: the npm package playwright-core (pinned by
# e2e/browser/package-lock.json), driving Debian's chromium; same stamp trick.
br_dir=e2e/browser
br_stamp="$br_dir/node_modules/.hubauth-lock-sha256"
br_lock_sum="$(sha256sum "$br_dir/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$br_stamp" ] || [ "$(cat "$br_stamp")" != "$br_lock_sum" ]; then
  log "installing the browser test's driver (npm ci in $br_dir)"
  (cd "$br_dir" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$br_lock_sum" >"$br_stamp"
fi

# Real JupyterHub for the end-to-end test of the hub as OAuth provider
# (crates/cli/tests/external/e2e_jupyterhub.rs): jupyterhub and oauthenticator from PyPI in a venv,
# pinned by e2e/jupyterhub/requirements.txt, and configurable-http-proxy from npm, pinned
# by e2e/jupyterhub/package-lock.json. Each is reinstalled when its pin file changes.
jh_dir=e2e/jupyterhub
jh_stamp="$jh_dir/.venv/.hubauth-requirements-sha256"
jh_req_sum="$(sha256sum "$jh_dir/requirements.txt" | cut -d' ' -f1)"
if [ ! -f "$jh_stamp" ] || [ "$(cat "$jh_stamp")" != "$jh_req_sum" ]; then
  log "installing JupyterHub for the end-to-end test (venv in $jh_dir/.venv)"
  rm -rf "$jh_dir/.venv"
  python3 -m venv "$jh_dir/.venv"
  "$jh_dir/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$jh_dir/requirements.txt"
  printf '%s\n' "$jh_req_sum" >"$jh_stamp"
fi
jh_npm_stamp="$jh_dir/node_modules/.hubauth-lock-sha256"
jh_lock_sum="$(sha256sum "$jh_dir/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$jh_npm_stamp" ] || [ "$(cat "$jh_npm_stamp")" != "$jh_lock_sum" ]; then
  log "installing configurable-http-proxy (npm ci in $jh_dir)"
  (cd "$jh_dir" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$jh_lock_sum" >"$jh_npm_stamp"
fi

# --- Rust --------------------------------------------------------------------------
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The release build's features (scripts/build-static.sh): no PAM, no demo providers.
cargo clippy -p hubauth --no-default-features --lib --bins --locked -- -D warnings

# Real PAM for crates/local's tests: throwaway users, groups and service files that the
# tests create and remove themselves (they need root); this checks the PAM modules are there.
if [ "$(id -u)" -eq 0 ]; then
  log "preparing PAM tests"
  ./scripts/setup-pam-tests.sh
else
  log "not root: skipping the real-PAM tests (HUBAUTH_SKIP_PAM=1)"
  export HUBAUTH_SKIP_PAM=1
fi

# A throwaway PostgreSQL server for the store contract tests on PostgreSQL
# (crates/store/src/tests/store.rs): its own data dir, loopback only, trust auth, stopped and
# removed at exit. A HUBAUTH_TEST_POSTGRES_URL already exported that answers is used as is.
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -n "${HUBAUTH_TEST_POSTGRES_URL:-}" ] && "$pg_bin/pg_isready" -q -d "$HUBAUTH_TEST_POSTGRES_URL"; then
  log "using the PostgreSQL server at HUBAUTH_TEST_POSTGRES_URL"
else
  log "starting a throwaway PostgreSQL server on loopback"
  pg_dir="$(mktemp -d /tmp/hubauth-pg.XXXXXX)"
  as_pg=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$pg_dir"
    as_pg=(runuser -u postgres --)
  fi
  stop_test_postgres() {
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  }
  trap stop_test_postgres EXIT
  pg_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --no-locale \
    >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; exit 1; }
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=off" start >/dev/null \
    || { cat "$pg_dir/server.log" >&2; exit 1; }
  "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres hubauth_test
  export HUBAUTH_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/hubauth_test"
fi

log "cargo test"
cargo test --workspace --locked --no-fail-fast
