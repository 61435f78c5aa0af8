#!/usr/bin/env bash
# The README's commands on a fresh machine: a clean container of IMAGE (default: Debian 12's
# python3 in `python:3.11-slim`), the committed tree copied in as a fresh clone would be,
# pip's PEP 668 guard on and python3-venv removed as on a stock Debian, then
# `bash scripts/setup.sh` timed and the tests in TESTS run with the README's test command.
#   PODMAN=podman IMAGE=python:3.11-slim TESTS="tests/unit tests/e2e/test_demo.py" bash scripts/fresh-machine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
podman=${PODMAN:-podman}
image=${IMAGE:-python:3.11-slim}
tests=${TESTS:-tests/unit tests/service tests/e2e/test_demo.py}
# This machine's certificate authorities, for pip behind a proxy that signs with its own
# (kept apart: the container's /etc/ssl/certs must stay writable for its own packages).
trust=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    trust=(-v /etc/ssl/certs/ca-certificates.crt:/etc/host-ca.crt:ro -e PIP_CERT=/etc/host-ca.crt)
fi
git archive --format=tar HEAD | "$podman" run --rm -i --network host "${trust[@]}" \
    -e TESTS="$tests" "$image" bash -c '
    set -euo pipefail
    unset PIP_BREAK_SYSTEM_PACKAGES
    export DEBIAN_FRONTEND=noninteractive
    mkdir /clone && tar -x -C /clone && cd /clone
    if dpkg -s python3-venv >/dev/null 2>&1; then
        apt-get remove -y -q python3-venv python3.11-venv >/dev/null
    fi
    python3 -m pip install --dry-run six >/dev/null 2>&1 && echo "pip may install system-wide" \
        || echo "pip refuses to install system-wide (PEP 668), as on a stock Debian or Ubuntu"
    start=$(date +%s)
    bash scripts/setup.sh >/tmp/setup.log 2>&1 || { tail -30 /tmp/setup.log; exit 1; }
    echo "setup.sh: $(( $(date +%s) - start )) s"
    start=$(date +%s)
    bash scripts/setup.sh >/dev/null 2>&1
    echo "setup.sh again: $(( $(date +%s) - start )) s"
    .venv/bin/python -m mypy | tail -1
    .venv/bin/python -m ruff check . | tail -1
    start=$(date +%s)
    .venv/bin/python -m pytest -p no:cacheprovider -q $TESTS | tail -3
    echo "tests: $(( $(date +%s) - start )) s"
'
