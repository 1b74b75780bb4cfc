#!/usr/bin/env bash
# What the test suite needs besides the venv, set up the same way on a newcomer's machine and in
# CI: PostgreSQL on 127.0.0.1:5432 (started when installed but down) and Debian's Chromium for
# the browser tests (installed with apt-get when missing and we may). Says what it does; fails
# with what to do when it cannot.
set -euo pipefail

pg_up() { command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    version="$(ls /etc/postgresql | head -n1)"
    echo "PostgreSQL $version is down; starting it"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if ! pg_up; then
  echo "error: the tests need PostgreSQL on 127.0.0.1:5432 (trust auth, database 'test');" \
       "install it (apt-get install postgresql) or start it" >&2
  exit 1
fi

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "error: the browser tests need Chromium at /usr/bin/chromium:" \
         "sudo apt-get install chromium" >&2
    exit 1
  fi
fi
