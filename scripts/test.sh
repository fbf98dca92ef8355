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
  need_pkg libpam0g-dev
  if [ "${#apt_missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${apt_missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${apt_missing[@]}"
  fi
fi

# Python's `cryptography` makes Fernet tokens for the interoperability tests.
if ! python3 -c 'import cryptography.fernet' >/dev/null 2>&1; then
  log "installing Python's cryptography package"
  python3 -m pip install --quiet cryptography
fi

# --- Rust --------------------------------------------------------------------------
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
cargo test --workspace --locked
