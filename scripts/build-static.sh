#!/usr/bin/env bash
# Builds a statically linked `hubauth` (x86_64 Linux, musl libc, no PAM) and checks that
# the result really is static. Prints the binary's path on the last line of stdout.
#
#   scripts/build-static.sh                 # -> target/x86_64-unknown-linux-musl/release/hubauth
#   CARGO_BUILD_JOBS=1 scripts/build-static.sh
#
# Needs the musl target (rustup target add x86_64-unknown-linux-musl) and a musl C
# compiler for the bundled C code (SQLite, ring): Debian/Ubuntu `apt-get install
# musl-tools`, which provides musl-gcc. deploy/Containerfile runs this script.
#
# The static build has every authenticator except PAMAuthenticator: PAMAuthenticator loads
# libpam at run time, which a static binary cannot do, so the `pam` feature is off
# (--no-default-features; which also leaves out the demo's providers and mocks), and
# `authenticator_class = "pam"` (also the default when it is not set) is refused at
# check-config/serve with "this build of hubauth has no PAM support". TLS is rustls with
# the webpki root certificates compiled in, so the binary needs no files from the system.
set -euo pipefail

cd "$(dirname "$0")/.."

target="x86_64-unknown-linux-musl"
target_env="${target//-/_}"

if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed | grep -qx "$target"; then
    echo "build-static: the Rust target $target is not installed; run: rustup target add $target" >&2
    exit 1
  fi
fi

# The cc crate compiles the bundled C code; point it at musl's compiler wrapper unless the
# caller chose another one.
cc_var="CC_${target_env}"
if [ -z "${!cc_var:-}" ]; then
  if ! command -v musl-gcc >/dev/null 2>&1; then
    echo "build-static: musl-gcc not found; install musl-tools (apt-get install musl-tools) or set $cc_var" >&2
    exit 1
  fi
  export "$cc_var=musl-gcc"
fi

# Static C runtime (the musl target's default, stated so that a global RUSTFLAGS cannot
# turn it off by accident).
rustflags_var="CARGO_TARGET_${target_env^^}_RUSTFLAGS"
export "$rustflags_var=${!rustflags_var:-} -C target-feature=+crt-static"

cargo build --release --locked --target "$target" -p hubauth --no-default-features >&2

bin="${CARGO_TARGET_DIR:-target}/$target/release/hubauth"
if [ ! -x "$bin" ]; then
  echo "build-static: cargo finished but $bin is missing" >&2
  exit 1
fi

# Static means: no program interpreter and no shared-library dependencies.
if readelf -l "$bin" | grep -q "INTERP"; then
  echo "build-static: $bin has a program interpreter (dynamically linked)" >&2
  exit 1
fi
if readelf -d "$bin" | grep -q "(NEEDED)"; then
  echo "build-static: $bin needs shared libraries:" >&2
  readelf -d "$bin" | grep "(NEEDED)" >&2
  exit 1
fi
if command -v file >/dev/null 2>&1; then
  file -L "$bin" >&2
fi
if command -v ldd >/dev/null 2>&1; then
  # glibc's ldd says "not a dynamic executable" or "statically linked" (and exits 1).
  ldd "$bin" >&2 || true
fi
"$bin" --version >&2
echo "$bin"
