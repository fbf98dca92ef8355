#!/usr/bin/env bash
# Prepares this machine for the PAM and local-account tests of crates/local (idempotent;
# run as root, e.g. from scripts/test.sh before `cargo test`).
#
# The tests create and remove their own throwaway UNIX users and groups (names starting
# with `hbt_`) and PAM service files (/etc/pam.d/hubauth-test-*), with known passwords,
# an expired account (chage -E 0) and pam_unix stacks. This script installs what they
# need and clears what an interrupted earlier run may have left behind.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-pam-tests.sh: run as root (the PAM tests create UNIX users and /etc/pam.d files)" >&2
  exit 1
fi

if command -v dpkg >/dev/null 2>&1; then
  missing=()
  need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }
  need_pkg libpam0g           # libpam.so.0, which PAMAuthenticator loads at run time
  need_pkg libpam-modules     # pam_unix, pam_exec, pam_stress, pam_faildelay
  need_pkg libpam-modules-bin # unix_chkpwd
  need_pkg passwd             # useradd, userdel, groupadd, groupdel, chpasswd, chage
  need_pkg login
  need_pkg adduser            # the default add_user_cmd
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup-pam-tests.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
else
  echo "setup-pam-tests.sh: not a Debian system; install libpam (Linux-PAM), pam_unix," >&2
  echo "  pam_exec, pam_stress, pam_faildelay, useradd/groupadd/chpasswd/chage yourself" >&2
fi

# Every module the tests' service files use must be there.
module_dir=""
for dir in /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security \
           /lib/aarch64-linux-gnu/security /usr/lib/aarch64-linux-gnu/security \
           /lib/security /lib64/security /usr/lib/security /usr/lib64/security; do
  if [ -f "$dir/pam_unix.so" ]; then module_dir="$dir"; break; fi
done
if [ -z "$module_dir" ]; then
  echo "setup-pam-tests.sh: pam_unix.so not found" >&2
  exit 1
fi
for module in pam_unix.so pam_exec.so pam_stress.so pam_faildelay.so; do
  if [ ! -f "$module_dir/$module" ]; then
    echo "setup-pam-tests.sh: $module_dir/$module is missing" >&2
    exit 1
  fi
done
for tool in useradd userdel groupadd groupdel chpasswd chage getent; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "setup-pam-tests.sh: $tool is missing" >&2
    exit 1
  fi
done

# Leftovers of an interrupted run.
"$(dirname "$0")/teardown-pam-tests.sh"
echo "setup-pam-tests.sh: ready"
