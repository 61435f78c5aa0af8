"""One `run --once` at opening time over N requests in both branch mailboxes (Dovecot),
replies to an aiosmtpd sink in a separate process, against the raw floor measured in the
same run: a plain imapclient fetch of the same messages and a plain aiosmtplib send of the
same number of replies over one connection.

    python -m bench.mail_run [--requests 10000] [--backend sqlite|postgresql] [--decide-alone]
                             [--mail-on-disk] [--rounds N]

`--rounds N`: N rounds, each with fresh servers, a fresh database and its own floor; the
median of their ratios. On a shared machine one round's floor alone moves by a quarter
from run to run, and a ratio with it.

`--decide-alone`: no sender process beside the deciding (`send_while_deciding_from = 0`),
so the decide figure is the decisions' own speed, not shared with a sender on the CPU.

Dovecot keeps its mail in memory (/dev/shm) unless `--mail-on-disk`, as the benchmark's
PostgreSQL runs with fsync off: on disk, Dovecot syncs every message it stores, and the
same 10,000 Sent copies took from 2.2 to 7.6 s on this machine within one day, which
measured the disk, not this software. `--mail-on-disk` shows what a disk does to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib

from bench.servers import database
from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.entrypoints.daemon import Daemon
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.config import MAIL_ENV, write_config
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import BRANCHES, request_message, seed_readers

WARSAW = ZoneInfo("Europe/Warsaw")
OPENING = datetime(2026, 11, 2, 12, 0, tzinfo=WARSAW)  # both branches open (Monday)
AIMS = {"sqlite": 1.3, "postgresql": 1.5}  # issue 14: total / floor


def deliver(dovecot: DovecotServer, requests: int) -> float:
    started = time.perf_counter()
    for branch in BRANCHES:
        with dovecot.client(branch) as client:
            for n in range(BRANCHES.index(branch), requests, 2):
                client.append(
                    "INBOX",
                    request_message(n),
                    msg_time=datetime(2026, 11, 1, 0, 0, 1, tzinfo=WARSAW),
                )
    return time.perf_counter() - started


def floor_fetch(dovecot: DovecotServer) -> tuple[float, int]:
    started, count = time.perf_counter(), 0
    for branch in BRANCHES:
        with dovecot.client(branch) as client:
            client.select_folder("INBOX", readonly=True)
            uids = client.search()
            for start in range(0, len(uids), 200):
                count += len(
                    client.fetch(
                        uids[start : start + 200], ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"]
                    )
                )
    return time.perf_counter() - started, count


def floor_append(dovecot: DovecotServer, count: int, reply: bytes) -> float:
    """A plain client appending `count` copies to a Sent folder, 200 per MULTIAPPEND: the
    floor of the daemon's copies of its replies."""
    started = time.perf_counter()
    per_branch = count // len(BRANCHES)
    for branch in BRANCHES:
        with dovecot.client(branch) as client:
            client.create_folder("FloorSent")
            for start in range(0, per_branch, 200):
                client.multiappend("FloorSent", [reply] * min(200, per_branch - start))
    return time.perf_counter() - started


async def floor_send(port: int, count: int, reply: bytes) -> float:
    started = time.perf_counter()
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, use_tls=False)
    await smtp.connect()
    for n in range(count):
        await smtp.sendmail("multimedia@biblioteka.test", [f"reader{n}@example.com"], reply)
    await smtp.quit()
    return time.perf_counter() - started


def child(config: str) -> None:
    """The measured run, alone in its process so its peak memory is its own."""
    app = bootstrap(load_settings(Path(config), MAIL_ENV))
    started = time.perf_counter()
    report = Daemon(app, lambda: OPENING).run_once()
    total = time.perf_counter() - started
    print(
        json.dumps(
            {
                "total": total,
                "seconds": report.seconds,
                "decided": sum(report.decided.values()),
                "queued": sum(c.queued for c in report.collected.values()),
                "fetched": sum(c.fetched for c in report.collected.values()),
                "sent": report.sent.sent,
                "outcomes": dict(report.decided),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--smtp-connections", type=int, default=None, help="[smtp] connections (default: 1)"
    )
    parser.add_argument(
        "--decide-alone",
        action="store_true",
        help="decide with no sender process beside it; the pass sends afterwards",
    )
    parser.add_argument(
        "--mail-on-disk",
        action="store_true",
        help="Dovecot's mail in the temp dir on disk, not in memory (/dev/shm)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="rounds, each with its own floor, servers and database; their median ratio",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-command", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    ratios = []
    for number in range(1, args.rounds + 1):
        if args.rounds > 1:
            print(f"-- round {number} of {args.rounds}")
        measured = one_round(args)
        if measured is None:  # a profiler's own report
            return
        result, floors, deliver_seconds, peak_mb = measured
        print(
            f"backend={args.backend} requests={args.requests} smtp connections="
            f"{args.smtp_connections or 1}{' deciding alone' if args.decide_alone else ''}"
            f" mail {'on disk' if args.mail_on_disk else 'in memory'}"
            f" (delivered to Dovecot in {deliver_seconds:.1f} s)"
        )
        ratios.append(show(result, floors, args.requests, peak_mb, aim=AIMS[args.backend]))
    if len(ratios) > 1:
        print(
            f"ratio total/floor over {len(ratios)} rounds: median {statistics.median(ratios):.2f},"
            f" min {min(ratios):.2f}, max {max(ratios):.2f} (aim <= {AIMS[args.backend]});"
            f" each: {', '.join(f'{r:.2f}' for r in ratios)}"
        )


def one_round(args: argparse.Namespace) -> tuple[dict[str, Any], Floors, float, float] | None:
    """A fresh Dovecot, SMTP sink and database: the floor, then the pass, in one run."""
    memory = Path("/dev/shm")  # noqa: S108 (a directory of its own is made inside)
    dovecot = DovecotServer(
        {"multimedia": "multimedia-secret", "w63": "w63-secret"},
        parent=None if args.mail_on_disk or not memory.is_dir() else memory,
    ).start()
    smtp_port = free_port()
    sink = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{smtp_port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ]
    )
    try:
        with tempfile.TemporaryDirectory() as temp, database(args.backend, Path(temp)) as url:
            seed_readers(url, args.requests, args.requests // 4)
            deliver_seconds = deliver(dovecot, args.requests)
            time.sleep(1.0)  # the sink is up
            fetch_seconds, fetched = floor_fetch(dovecot)
            reply = (
                request_message(0) + (b"x" * 70 + b"\r\n") * 17
            )  # about the size of a Polish reply
            send_seconds = asyncio.run(floor_send(smtp_port, args.requests, reply))
            append_seconds = floor_append(dovecot, args.requests, reply)
            config = write_config(Path(temp), url, imap_port=dovecot.port, smtp_port=smtp_port)
            smtp_options = []
            if args.smtp_connections is not None:
                smtp_options.append(f"connections = {args.smtp_connections}")
            if args.decide_alone:
                smtp_options.append("send_while_deciding_from = 0")
            if smtp_options:
                text = config.read_text(encoding="utf-8").replace(
                    "[smtp]\n", "[smtp]\n" + "".join(f"{o}\n" for o in smtp_options), 1
                )
                config.write_text(text, encoding="utf-8")
            run = subprocess.run(
                [*args.child_command.split(), str(config)]
                if args.child_command
                else [sys.executable, "-m", "bench.mail_run", "--child", str(config)],
                capture_output=True,
                text=True,
                check=True,
            )
            if args.child_command:
                print(run.stdout)
                return None
            # The largest of the children waited for so far: the pass, in every round.
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            result = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        sink.terminate()
        sink.wait()
        dovecot.stop()
    floors = Floors(fetched, fetch_seconds, send_seconds, append_seconds)
    return result, floors, deliver_seconds, peak_mb


@dataclass(frozen=True)
class Floors:
    """The raw protocol work measured in the same run."""

    fetched: int
    fetch: float
    send: float
    append: float


def show(result: dict[str, Any], floors: Floors, n: int, peak_mb: float, *, aim: float) -> float:
    """Print one round; its ratio of the total to the floor."""
    phases = result["seconds"]
    floor = floors.fetch + floors.send
    print(
        f"run --once: total={result['total']:.2f} s  peak_rss={peak_mb:.0f} MB  "
        f"queued={result['queued']} decided={result['decided']} sent={result['sent']}"
    )
    print(
        f"  ingest   {phases['collect']:.2f} s  {result['fetched'] / phases['collect']:.0f} messages/s"
    )
    print(
        f"  decide   {phases['decide']:.2f} s  {result['decided'] / phases['decide']:.0f} decisions/s"
    )
    print(f"  file     {phases['file']:.2f} s")
    if "sending" in phases:  # a second process sent while the pass decided
        print(
            f"  send     {phases['sending']:.2f} s  {result['sent'] / phases['sending']:.0f}"
            f" replies/s, from a second process; the pass waited {phases['send']:.2f} s for it"
        )
    else:
        print(f"  send     {phases['send']:.2f} s  {result['sent'] / phases['send']:.0f} replies/s")
    print(f"  copy     {phases.get('copy', 0.0):.2f} s  (replies into the Sent folders)")
    print(f"  all phases: {json.dumps({k: round(v, 2) for k, v in phases.items()})}")
    print(
        f"floor: fetch {floors.fetched} in {floors.fetch:.2f} s + send {n} in {floors.send:.2f} s"
        f" = {floor:.2f} s"
    )
    ratio: float = result["total"] / floor
    print(f"ratio total/floor = {ratio:.2f} (aim <= {aim})  outcomes={result['outcomes']}")
    with_copies = floor + floors.append
    print(
        f"floor with the Sent copies: + append {n} in {floors.append:.2f} s = {with_copies:.2f} s;"
        f" ratio total/floor = {result['total'] / with_copies:.2f}"
    )
    return ratio


if __name__ == "__main__":
    main()
