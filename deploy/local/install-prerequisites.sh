#!/usr/bin/env bash
# Installs the Debian packages that `make run` and `make test` need and that are missing:
# a JDK (runs the Kafka broker), Maven (fetches its jars), the PostgreSQL server (tests) and
# Chromium (the console's browser tests drive it headless through Playwright), and Python's
# venv module where Debian ships it apart (`make` creates the project's .venv with it), and
# Prometheus (its promtool checks the alert rules).
# Does nothing on a machine that has them; needs root (or sudo) only when it installs.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# promtool checks the alert rules (deploy/prometheus); prometheus itself is in the same package.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
"${BASE_PYTHON:-python3}" -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
