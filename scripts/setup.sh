#!/usr/bin/env bash
# Installs everything empikgo-mailer and its tests need on a fresh Debian/Ubuntu machine:
# the PostgreSQL server binaries and Dovecot (the tests start their own throwaway servers
# on loopback) and the Python package with its development tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
packages=()
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    packages+=(postgresql)
fi
command -v runuser >/dev/null 2>&1 || packages+=(util-linux)
# The mail tests run a throwaway Dovecot of their own (never the system service).
[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null 2>&1 || packages+=(dovecot-imapd)
# The console's tests drive Debian's Chromium through Playwright (which cannot download
# browsers here).
[ -x /usr/bin/chromium ] || packages+=(chromium)
# The deployment tests check the systemd units with systemd-analyze.
command -v systemd-analyze >/dev/null 2>&1 || packages+=(systemd)
# The hostile-mail tests read CPython's own e-mail test corpus (test/test_email/data); a
# Python without its test package takes it from Debian's libpython3.X-testsuite.
if ! "$python" -c 'import pathlib, sys, sysconfig
data = pathlib.Path(sysconfig.get_paths()["stdlib"]) / "test/test_email/data/msg_01.txt"
sys.exit(0 if data.exists() else 1)' && ! compgen -G "/usr/lib/python3*/test/test_email/data/msg_01.txt" >/dev/null; then
    packages+=("libpython3.$(/usr/bin/python3 -c 'import sys; print(sys.version_info.minor)')-testsuite")
fi

if ((${#packages[@]})); then
    if [ "$(id -u)" -eq 0 ]; then
        apt_get=(apt-get)
    elif command -v sudo >/dev/null 2>&1; then
        apt_get=(sudo apt-get)
    else
        echo "Missing system packages: ${packages[*]} (install them as root)" >&2
        exit 1
    fi
    "${apt_get[@]}" update -q
    DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q --no-install-recommends "${packages[@]}"
fi

"$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[dev]'

# The deployment tests build the Dockerfile and bring compose.yaml up with podman. These
# machines have no Docker engine and reach no container registry: the shared tools
# install podman and build local stand-ins for python:3.11-slim and postgres:16 (about
# two minutes the first time, cached after). Root only; elsewhere those tests say why.
standins=../shared/tools/container-standins.sh
if [ "$(id -u)" -eq 0 ] && [ -f "$standins" ]; then
    bash "$standins" >/dev/null
elif ! command -v podman >/dev/null 2>&1; then
    echo "note: podman is missing; the deployment tests (tests/deploy) will be skipped" >&2
fi
