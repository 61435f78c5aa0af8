#!/usr/bin/env bash
# Installs everything empikgo-mailer and its tests need on a fresh Debian 12 / Ubuntu 24.04
# machine: the PostgreSQL server binaries, Dovecot, Postfix and Chromium (the tests and the
# demo start throwaway servers of their own on loopback, never the system services), then a
# virtual environment in .venv with every Python dependency at the version the lock
# (requirements/dev.lock, hashes checked) names, and the package itself, editable.
# A venv, not the system Python: Debian and Ubuntu refuse `pip install` there (PEP 668).
# Safe to run again: what is installed already is kept. PYTHON=python3.12 picks the
# interpreter of a new .venv; VENV=path puts it elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
venv=${VENV:-.venv}
packages=()
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    packages+=(postgresql)
fi
command -v runuser >/dev/null 2>&1 || packages+=(util-linux)
# The mail tests run a throwaway Dovecot of their own (never the system service).
[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null 2>&1 || packages+=(dovecot-imapd)
# The bounce tests put a throwaway Postfix of their own in front of it, delivering over
# LMTP (tests/support/postfix.py); neither system service is used.
[ -x /usr/lib/dovecot/lmtp ] || [ -x /usr/libexec/dovecot/lmtp ] || packages+=(dovecot-lmtpd)
[ -x /usr/sbin/postfix ] || command -v postfix >/dev/null 2>&1 || packages+=(postfix)
# The console's tests drive Chromium through Playwright: Debian's package where apt has it
# (Playwright's own download needs its CDN, which some networks do not reach); on Ubuntu,
# whose chromium is a snap, Playwright's own build, installed below.
playwright_browser=no
if [ ! -x /usr/bin/chromium ]; then
    if grep -qsx 'ID=ubuntu' /etc/os-release; then
        playwright_browser=yes
    else
        packages+=(chromium)
    fi
fi
# The deployment tests check the systemd units with systemd-analyze.
command -v systemd-analyze >/dev/null 2>&1 || packages+=(systemd)
# The alert rules are checked with promtool (tests/integration/test_alert_rules.py); the
# package's Prometheus service is not used (nor started in a container without systemd).
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
# CI runs the date-sensitive tests once more at a far moment (.ci/run, scripts/faketime.sh,
# which compiles a small shim for libfaketime).
command -v faketime >/dev/null 2>&1 || packages+=(faketime)
command -v gcc >/dev/null 2>&1 || packages+=(gcc libc6-dev)
# Debian's and Ubuntu's python3 comes without venv's pip (ensurepip): python3.X-venv has it.
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    packages+=("python3.$("$python" -c 'import sys; print(sys.version_info.minor)')-venv")
fi
# The hostile-mail tests read CPython's own e-mail test corpus (test/test_email/data); a
# Python without its test package takes it from Debian's libpython3.X-testsuite.
if ! "$python" -c 'import pathlib, sys, sysconfig
data = pathlib.Path(sysconfig.get_paths()["stdlib"]) / "test/test_email/data/msg_01.txt"
sys.exit(0 if data.exists() else 1)' && ! compgen -G "/usr/lib/python3*/test/test_email/data/msg_01.txt" >/dev/null; then
    packages+=("libpython3.$("$python" -c 'import sys; print(sys.version_info.minor)')-testsuite")
fi

if ((${#packages[@]})); then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "Missing system packages: ${packages[*]} (install them as root)" >&2
        exit 1
    fi
    # Postfix's package asks what kind of mail system this is. "No configuration": it
    # writes no /etc/postfix/main.cf, so its init script starts no system MTA (port 25)
    # and nothing waits for an answer; the tests bring their own main.cf.
    if [[ " ${packages[*]} " == *" postfix "* ]]; then
        echo "postfix postfix/main_mailer_type select No configuration" \
            | "${as_root[@]}" debconf-set-selections
    fi
    "${as_root[@]}" apt-get update -q
    # (env: sudo would drop a variable set in front of it.)
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

# A venv left half-made (no pip) by an interrupted run is made again.
[ -x "$venv/bin/pip" ] || "$python" -m venv --clear "$venv"
install=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore)
"${install[@]}" --require-hashes --no-deps -r requirements/dev.lock
# The package itself, built by the locked setuptools (no download of a newer one).
"${install[@]}" --no-deps --no-build-isolation -e .
if [ "$playwright_browser" = yes ]; then
    sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    # Only the console's tests need it: without it the demo and everything else still work.
    if ! { "${sudo[@]}" "$venv/bin/python" -m playwright install-deps chromium \
           && "$venv/bin/python" -m playwright install chromium; } >"$venv/playwright-install.log" 2>&1; then
        echo "warning: Playwright could not install its Chromium (see $venv/playwright-install.log);" \
             "the console's browser tests will fail until it can" >&2
    fi
fi

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
