#!/usr/bin/env bash
# Removes everything the PAM and local-account tests of crates/local can create: UNIX
# users and groups whose names start with `hbt_` (with their home directories) and the
# PAM service files /etc/pam.d/hubauth-test-*. The tests remove their own on exit; this
# cleans up after a run that was killed. Idempotent; run as root.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "teardown-pam-tests.sh: run as root" >&2
  exit 1
fi

removed=0
while IFS=: read -r name _; do
  case "$name" in
    hbt_*) userdel -r -f "$name" >/dev/null 2>&1 || userdel -f "$name" >/dev/null 2>&1 || true
           removed=$((removed + 1)) ;;
  esac
done < <(getent passwd)
while IFS=: read -r name _; do
  case "$name" in
    hbt_*) groupdel "$name" >/dev/null 2>&1 || true
           removed=$((removed + 1)) ;;
  esac
done < <(getent group)
for file in /etc/pam.d/hubauth-test-*; do
  if [ -e "$file" ]; then
    rm -f -- "$file"
    removed=$((removed + 1))
  fi
done
echo "teardown-pam-tests.sh: removed $removed leftover users, groups and service files"
