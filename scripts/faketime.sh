#!/usr/bin/env bash
# Runs a command, and every process it starts, with the clock at MOMENT (libfaketime), to
# check that the suite and the demo work on any day:
#   bash scripts/faketime.sh '2027-03-28 01:30 Europe/Warsaw' .venv/bin/python -m pytest
# The clock is the real one plus a fixed offset in every process, with no state shared
# between processes (not the `faketime` wrapper's shared clock): scripts/faketime-shim.c
# says why, and mends libfaketime where Python's timed waits fall through it. The throwaway
# Dovecot keeps the same clock (rehearsal/dovecot.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 'YYYY-MM-DD HH:MM [ZONE]' COMMAND..." >&2; exit 2; }
moment=$1; shift
when=$moment
if [[ $moment =~ ^(.+)\ ([A-Za-z]+/[A-Za-z_]+)$ ]]; then   # "2027-03-28 01:30 Europe/Warsaw"
    when="TZ=\"${BASH_REMATCH[2]}\" ${BASH_REMATCH[1]}"
fi
target=$(date -d "$when" +%s)
library=$(compgen -G "/usr/lib/*/faketime/libfaketime.so.1" | head -n 1 || true)
[ -n "$library" ] || { echo "libfaketime not found: apt-get install faketime" >&2; exit 1; }
shim=${TMPDIR:-/tmp}/empikgo-faketime-shim-$(sha256sum "$here/faketime-shim.c" | cut -c1-12).so
if [ ! -f "$shim" ]; then
    command -v gcc >/dev/null || { echo "gcc not found: apt-get install gcc" >&2; exit 1; }
    gcc -O2 -shared -fPIC -o "$shim.part" "$here/faketime-shim.c" -ldl && mv "$shim.part" "$shim"
fi
export LD_PRELOAD=$shim:$library${LD_PRELOAD:+:$LD_PRELOAD}
export FAKETIME="+$((target - $(date +%s)))"
unset FAKETIME_SHARED FAKETIME_DONT_FAKE_MONOTONIC
exec "$@"
