#!/usr/bin/env bash
# The main job with the example configuration: set up the SQLite database (data/), load the
# sample patrons and this month's sample code pools from fixtures/, show the status, then
# run the mail daemon until Ctrl-C or SIGTERM (MAIN_JOB_ONCE=1: a single pass). Safe to run
# again: codes already loaded are listed as refused (exit code 4) and the job goes on. The
# example's mail servers are placeholders: until EMPIKGO_CONFIG names a configuration with
# real ones, every pass reports the mailboxes unreachable (a single pass exits 6).
set -euo pipefail
cd "$(dirname "$0")/.."

export EMPIKGO_CONFIG=${EMPIKGO_CONFIG:-config/empikgo.example.toml}
month=$(TZ=Europe/Warsaw date +%Y-%m)
[ -x .venv/bin/empikgo-mailer ] || bash scripts/setup.sh
cli=(.venv/bin/empikgo-mailer)

# Exit code 4 means "some rows were refused": expected when the samples are loaded again.
tolerate_refused() { "$@" || [ $? -eq 4 ]; }

"${cli[@]}" init
tolerate_refused "${cli[@]}" patrons import fixtures/patrons.csv
tolerate_refused "${cli[@]}" codes import fixtures/codes/empik-go-multimedia.txt \
    --platform empik-go --month "$month" --branch multimedia
tolerate_refused "${cli[@]}" codes import fixtures/codes/empik-go-w63.txt \
    --platform empik-go --month "$month" --branch w63
tolerate_refused "${cli[@]}" codes import fixtures/codes/legimi.csv --platform legimi --month "$month"
"${cli[@]}" status
if [ "${MAIN_JOB_ONCE:-0}" = 1 ]; then
    exec "${cli[@]}" run --once
fi
exec "${cli[@]}" -v run
