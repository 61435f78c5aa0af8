#!/usr/bin/env bash
# Refreshes the lock: every Python dependency at the newest version pyproject.toml's ranges
# allow, for every Python from 3.11 on (Debian 12 has 3.11, Ubuntu 24.04 3.12), with the
# hashes of every file PyPI has for it. Then installs it into .venv and runs the checks and
# the suite, so a refresh that breaks something is seen before it is committed.
#   bash scripts/lock.sh                 # everything to the newest allowed
#   bash scripts/lock.sh -P click        # one package only (uv's --upgrade-package)
# The three files, one resolution: dev.lock (what setup.sh, CI and a developer install),
# runtime.lock and charts.lock (what the Dockerfile installs) pinned to dev.lock's versions.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/uv ] || bash scripts/setup.sh
upgrade=(--upgrade)
[ $# -eq 0 ] || upgrade=()
compile=(.venv/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes
         --custom-compile-command "bash scripts/lock.sh")
"${compile[@]}" "${upgrade[@]}" "$@" pyproject.toml requirements/build.in --extra dev \
    -o requirements/dev.lock
"${compile[@]}" pyproject.toml requirements/build.in -c requirements/dev.lock \
    -o requirements/runtime.lock
"${compile[@]}" pyproject.toml requirements/build.in --extra charts -c requirements/dev.lock \
    -o requirements/charts.lock

bash scripts/setup.sh
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m mypy
.venv/bin/python -m pytest
