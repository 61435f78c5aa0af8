"""Ingest alone: N requests in both branch mailboxes (Dovecot) collected into committed
queue rows, beside the floor of the same run (a plain imapclient fetch of the same
messages), with the collector's own time split into fetching, reading and storing.
BENCH_PROFILE=1 adds a profile of the collect.

    python -m bench.ingest [--requests 10000] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from bench.mail_run import OPENING, deliver, floor_fetch
from bench.servers import database
from empikgo_mailer.adapters.imap_mailbox import ImapMailbox
from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.handlers import mailbox as collector
from tests.support.config import MAIL_ENV, write_config
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import BRANCHES

T = TypeVar("T")


def timed(work: Callable[..., T], spent: dict[str, float], part: str) -> Callable[..., T]:
    def run(*args: Any, **kwargs: Any) -> T:
        began = time.perf_counter()
        try:
            return work(*args, **kwargs)
        finally:
            spent[part] = spent.get(part, 0.0) + time.perf_counter() - began

    return run


def child(config: str) -> None:
    """The measured collect, alone in its process, its parts timed as they run."""
    app = bootstrap(load_settings(Path(config), MAIL_ENV))
    settings = app.settings
    spent: dict[str, float] = {}
    collector.classify = timed(collector.classify, spent, "read")
    collector._store_batch = timed(collector._store_batch, spent, "store")
    profile = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
    started = time.perf_counter()
    collected = 0
    if profile is not None:
        profile.enable()
    for branch in BRANCHES:
        box = ImapMailbox(settings.branches[branch].imap)
        timed(box.connect, spent, "log-in")()
        box.fetch = timed(box.fetch, spent, "fetch")  # type: ignore[method-assign]
        try:
            command = collector.CollectMailbox(branch)
            for stored in app.handle(command, mailbox=box, clock=lambda: OPENING):
                collected += stored.queued
        finally:
            timed(box.close, spent, "log-out")()
    total = time.perf_counter() - started
    if profile is not None:  # BENCH_PROFILE=1: where the collect's time goes, on stderr
        profile.disable()
        stats = pstats.Stats(profile, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumtime").print_callees("collect_batches")
    print(json.dumps({"total": total, "queued": collected, **spent}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    dovecot = DovecotServer({"multimedia": "multimedia-secret", "w63": "w63-secret"}).start()
    try:
        with tempfile.TemporaryDirectory() as temp, database(args.backend, Path(temp)) as url:
            deliver(dovecot, args.requests)
            floor_seconds, fetched = floor_fetch(dovecot)
            config = write_config(Path(temp), url, imap_port=dovecot.port)
            run = subprocess.run(
                [sys.executable, "-m", "bench.ingest", "--child", str(config)],
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            )
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            result = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        dovecot.stop()
    total, n = result["total"], result["queued"]
    rest = total - sum(result[part] for part in ("fetch", "read", "store", "log-in", "log-out"))
    print(f"backend={args.backend} requests={args.requests} queued={n} peak_rss={peak_mb:.0f} MB")
    print(f"ingest: {total:.2f} s  {n / total:.0f} messages/s into committed queue rows")
    print(
        f"  fetch {result['fetch']:.2f} s ({n / result['fetch']:.0f}/s)  "
        f"read {result['read']:.2f} s ({1e6 * result['read'] / n:.0f} us each)  "
        f"store {result['store']:.2f} s  log-in {result['log-in']:.2f} s  log-out {result['log-out']:.2f} s  "
        f"the rest {rest:.2f} s"
    )
    print(
        f"floor: plain imapclient fetch of {fetched} in {floor_seconds:.2f} s "
        f"({fetched / floor_seconds:.0f}/s); ratio {total / floor_seconds:.2f}"
    )


if __name__ == "__main__":
    main()
