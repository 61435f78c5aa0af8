"""Legimi claims over HTTP against `empikgo-mailer web` as a real process: the first
minutes of a month, when readers press "Pobierz kod Legimi" all at once.

    python -m bench.legimi_http [--readers 2000] [--codes 1500] [--clients 16]
                                [--backend both] [--workers 1] [--burst 5000]

Two loads, each run against the web process and, in the same run, against the floor: a
bare Starlette endpoint in one uvicorn process answering a fixed JSON claim
(`bench.bare_endpoint`).
- Closed loop: `--clients` threads, every reader claims twice (the second answer must be
  the same code). Prints requests per second and latency percentiles.
- Burst (`--burst N`): N readers each claim once, sent at an even pace within
  `--burst-seconds`, whatever the answers take (open loop, as a catalogue's users
  click). Prints errors, timeouts, latency, and how far the order of the codes given
  departs from the order the claims were sent (inversions: pairs of readers where the
  one who clicked first got the later code).
- Staff at work (`--staff`): the closed loop once more, while a head librarian logs in
  `--logins` times (Argon2 each) and previews a `--pool-mb` MB pool file in the console
  of the same process, as at 10:00 on the first working day. Prints the claims' latency
  beside the staff's own; the claims' p99 should stay under 150 ms.
All check that no code went out twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import httpx

from bench.servers import database, seed_patrons
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.staff import Role
from empikgo_mailer.handlers.staff import AddStaff
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.config import write_config
from tests.support.data import add_codes

TOKEN = "bench-token"  # noqa: S105
CLAIMS = "/api/legimi/claims"
WARM_UP = 200  # requests before the clock starts
T = TypeVar("T")
HEAD, HEAD_PASSWORD = "kierownik", "bench-head-password"
NOW = "2027-01-04T10:00"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _seed(url: str, cards: list[str], codes: int) -> None:
    db = Database(url)
    seed_patrons(db, cards)
    add_codes(db, Platform.LEGIMI, Month(2027, 1), None, [f"LGM-{n:06d}" for n in range(codes)])
    db.dispose()


def _add_head(config: Path) -> None:
    app = bootstrap(load_settings(config, {}))
    now = datetime.fromisoformat(NOW).replace(tzinfo=app.settings.timezone)
    app.handle(AddStaff(HEAD, HEAD_PASSWORD, Role.HEAD), now=now)
    app.db.dispose()


def _peak_rss_mb(pid: int) -> float:
    """The process's peak, plus its worker processes' (uvicorn --workers)."""
    total = 0.0
    for task in [pid, *_children(pid)]:
        for line in Path(f"/proc/{task}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in found.read_text().split()] if found.exists() else []


@contextmanager
def _serving(
    command: list[str], port: int, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class Closed:
    seconds: float
    codes: list[str | None]
    firsts: list[float]
    repeats: list[float]

    def line(self, requests: int, peak: float) -> str:
        return (
            f"requests={requests} seconds={self.seconds:.2f} "
            f"requests/s={requests / self.seconds:.0f} | first claim ms "
            f"p50={_pct(self.firsts, 0.5):.1f} p95={_pct(self.firsts, 0.95):.1f} "
            f"p99={_pct(self.firsts, 0.99):.1f} | repeat ms "
            f"p50={statistics.median(self.repeats) * 1000:.1f} | peak RSS={peak:.0f} MB"
        )


@dataclass
class StaffWork:
    logins: list[float]  # seconds each log-in took, form to dashboard
    preview: float  # seconds the pool file's preview took, upload to page

    def line(self) -> str:
        return (
            f"staff: {len(self.logins)} log-ins ms p50={_pct(self.logins, 0.5):.0f} "
            f"max={max(self.logins) * 1000:.0f} | pool preview {self.preview:.2f} s"
        )


def _log_in(base: str) -> tuple[httpx.Client, float]:
    client = httpx.Client(base_url=base, timeout=60)
    started = time.perf_counter()
    form = client.get("/logowanie").text
    token = CSRF.search(form)
    assert token is not None
    answer = client.post(
        "/logowanie", data={"csrf_token": token[1], "login": HEAD, "password": HEAD_PASSWORD}
    )
    assert answer.status_code == 303, answer.status_code
    return client, time.perf_counter() - started


def staff_at_work(base: str, logins: int, pool_mb: float) -> StaffWork:
    """A head librarian in the console while the claims run: half the log-ins, a pool
    file previewed (its codes checked against the database), the other half."""
    took = []
    for _ in range(logins // 2):
        client, seconds = _log_in(base)
        client.close()
        took.append(seconds)
    client, seconds = _log_in(base)
    took.append(seconds)
    token = CSRF.search(client.get("/pule").text)
    assert token is not None
    lines = int(pool_mb * 2**20) // 16
    pool = "".join(f"EGM-BENCH-{n:05X}\n" for n in range(lines)).encode()
    started = time.perf_counter()
    answer = client.post(
        "/pule/podglad",
        data={"csrf_token": token[1], "platform": "empik-go", "month": "2027-01",
              "branch": "multimedia"},
        files={"file": ("pula.txt", pool, "text/plain")},
    )  # fmt: skip
    preview = time.perf_counter() - started
    assert answer.status_code == 200, answer.status_code
    assert "Podgląd puli" in answer.text
    client.close()
    for _ in range(logins - logins // 2 - 1):
        client, seconds = _log_in(base)
        client.close()
        took.append(seconds)
    return StaffWork(took, preview)


def closed_loop(
    base: str, cards: list[str], clients: int, beside: Callable[[], T] | None = None
) -> tuple[Closed, T | None]:
    """`beside`: work of its own in another thread, from when the clock starts."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    # One keep-alive client per thread: creating an httpx.Client costs ~15 ms (its TLS
    # context), which would measure the benchmark rather than the server.
    local = threading.local()

    def claim_twice(card: str) -> tuple[str | None, float, float]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, headers=headers, timeout=30)
        client: httpx.Client = local.client
        started = time.perf_counter()
        first = client.post(CLAIMS, json={"card_number": card}).json()
        middle = time.perf_counter()
        second = client.post(CLAIMS, json={"card_number": card}).json()
        assert second["code"] == first["code"], card
        return first["code"], middle - started, time.perf_counter() - middle

    def warm_up(n: int) -> None:
        # Cards nobody holds: every layer runs once (statements compiled, connections
        # opened) and no code is given; a server at 10:00 has been up for a while.
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, headers=headers, timeout=30)
        local.client.post(CLAIMS, json={"card_number": f"W{n:06d}"})

    with ThreadPoolExecutor(clients) as pool, ThreadPoolExecutor(1) as other:
        list(pool.map(warm_up, range(WARM_UP)))
        started = time.perf_counter()
        done = other.submit(beside) if beside is not None else None
        results = list(pool.map(claim_twice, cards))
        seconds = time.perf_counter() - started
        extra = done.result() if done is not None else None
    closed = Closed(
        seconds, [r[0] for r in results], [r[1] for r in results], [r[2] for r in results]
    )
    return closed, extra


@dataclass
class Burst:
    sent: list[float]  # when each claim left, seconds from the start
    took: list[float]
    codes: list[str | None]
    errors: int
    timeouts: int
    seconds: float

    def inversions(self, apart: float = 0.0) -> int:
        """Pairs (a, b) where a was sent more than `apart` seconds before b and got the
        later code (codes were loaded in order: LGM-000000 is the first to go)."""
        given = sorted(
            (sent, int(code.rsplit("-", 1)[1]))
            for sent, code in zip(self.sent, self.codes, strict=True)
            if code is not None
        )
        count = 0
        for i, (sent_a, code_a) in enumerate(given):
            for sent_b, code_b in given[i + 1 :]:
                if sent_b - sent_a > apart and code_b < code_a:
                    count += 1
        return count

    def line(self, peak: float) -> str:
        granted = [c for c in self.codes if c is not None]
        pairs = len(granted) * (len(granted) - 1) // 2
        inverted = self.inversions()
        return (
            f"claims={len(self.codes)} in {self.seconds:.2f} s errors={self.errors} "
            f"timeouts={self.timeouts} | ms p50={_pct(self.took, 0.5):.1f} "
            f"p99={_pct(self.took, 0.99):.1f} max={max(self.took) * 1000:.0f} | inversions="
            f"{inverted} of {pairs} pairs ({inverted / max(1, pairs):.4%}), sent >10 ms apart: "
            f"{self.inversions(0.010)}, >50 ms: {self.inversions(0.050)} | peak RSS={peak:.0f} MB"
        )


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol to post a
    claim and read the answer: a Python client (httpx) spends more CPU per request than
    the server under test, on a machine whose two cores the two share."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, card: str) -> tuple[int, dict[str, object]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        body = json.dumps({"card_number": card}).encode()
        self.writer.write(
            b"POST " + CLAIMS.encode() + b" HTTP/1.1\r\nHost: bench\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return status, json.loads(await self.reader.readexactly(length))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _burst(port: int, cards: list[str], args: argparse.Namespace) -> Burst:
    """Claims due at an even pace over `--burst-seconds`, sent over `--connections`
    keep-alive connections (as a catalogue's servers would): a claim due while every
    connection is busy waits for one, and its latency counts from when it was due."""
    seconds, timeout = args.burst_seconds, args.timeout
    sent, took = [0.0] * len(cards), [0.0] * len(cards)
    codes: list[str | None] = [None] * len(cards)
    errors = timeouts = 0
    due: asyncio.Queue[int | None] = asyncio.Queue()
    connections = [_Connection(port) for _ in range(args.connections)]
    for n, connection in enumerate(connections * 2):  # as in the closed loop: nobody's cards
        await connection.post(f"W{n:06d}")
    start = time.perf_counter()

    async def pace() -> None:
        for i in range(len(cards)):
            await asyncio.sleep(max(0.0, start + i * seconds / len(cards) - time.perf_counter()))
            due.put_nowait(i)
        for _ in connections:
            due.put_nowait(None)

    async def send(connection: _Connection) -> None:
        nonlocal errors, timeouts
        while (i := await due.get()) is not None:
            sent[i] = i * seconds / len(cards)  # when it was due
            try:
                status, answer = await asyncio.wait_for(connection.post(cards[i]), timeout)
            except TimeoutError:
                timeouts += 1
                took[i] = timeout
                connection.close()
                connection.writer = None
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                took[i] = time.perf_counter() - start - sent[i]
                connection.close()
                connection.writer = None
                continue
            took[i] = time.perf_counter() - start - sent[i]
            if status != 200:
                errors += 1
                continue
            code = answer.get("code")
            codes[i] = code if isinstance(code, str) else None

    await asyncio.gather(pace(), *(send(connection) for connection in connections))
    for connection in connections:
        connection.close()
    return Burst(sent, took, codes, errors, timeouts, time.perf_counter() - start)


def _check(codes: list[str | None], expected: int) -> None:
    given = [code for code in codes if code is not None]
    assert len(given) == expected, (len(given), expected)
    assert len(set(given)) == len(given), "a code went out twice"


def _web_command(config: Path, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "empikgo_mailer",
        "--config",
        str(config),
        "web",
        "--port",
        str(port),
        *(["--workers", str(workers)] if workers > 1 else []),
        "--now",
        NOW,
    ]


def _floor_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bench.bare_endpoint", "--port", str(port)]


@contextmanager
def _database(backend: str, readers: int, codes: int) -> Iterator[tuple[Path, list[str]]]:
    with tempfile.TemporaryDirectory() as temp, database(backend, Path(temp)) as url:
        cards = [f"C{n:06d}" for n in range(readers)]
        _seed(url, cards, codes)
        config = write_config(Path(temp), url)
        text = config.read_text(encoding="utf-8") + "\n[web]\nclaims_per_card_per_minute = 10\n"
        config.write_text(text, encoding="utf-8")
        yield config, cards


def _run(backend: str, args: argparse.Namespace) -> None:
    env = {**os.environ, "EMPIKGO_API_TOKEN": TOKEN}
    label = f"{backend} web x{args.workers}"
    floor = "floor (bare endpoint)"
    with _database(backend, args.readers, args.codes) as (config, cards):
        port = free_port()
        with _serving(_floor_command(port), port, env) as bare:
            floor_closed, _ = closed_loop(f"http://127.0.0.1:{port}", cards, args.clients)
            floor_peak = _peak_rss_mb(bare.pid)
        port = free_port()
        with _serving(_web_command(config, port, args.workers), port, env) as web:
            ours, _ = closed_loop(f"http://127.0.0.1:{port}", cards, args.clients)
            peak = _peak_rss_mb(web.pid)
        _check(ours.codes, min(args.codes, args.readers))
    print(f"{label:<22} closed {ours.line(2 * args.readers, peak)}")
    print(f"{floor:<22} closed {floor_closed.line(2 * args.readers, floor_peak)}")
    if args.staff:
        with _database(backend, args.readers, args.codes) as (config, cards):
            _add_head(config)
            port = free_port()
            with _serving(_web_command(config, port, args.workers), port, env) as web:
                base = f"http://127.0.0.1:{port}"
                busy, work = closed_loop(
                    base,
                    cards,
                    args.clients,
                    lambda: staff_at_work(base, args.logins, args.pool_mb),
                )
                peak = _peak_rss_mb(web.pid)
            _check(busy.codes, min(args.codes, args.readers))
        assert work is not None
        print(f"{label:<22} staff  {busy.line(2 * args.readers, peak)}")
        print(f"{'':<22}        {work.line()} | floor: claims p99 <= 150 ms")
    if not args.burst:
        return
    # The burst: a pool for every reader, so every claim should get a code.
    with _database(backend, args.burst, args.burst) as (config, cards):
        port = free_port()
        with _serving(_floor_command(port), port, env) as bare:
            floor_burst = asyncio.run(_burst(port, cards, args))
            floor_peak = _peak_rss_mb(bare.pid)
        port = free_port()
        with _serving(_web_command(config, port, args.workers), port, env) as web:
            burst = asyncio.run(_burst(port, cards, args))
            peak = _peak_rss_mb(web.pid)
        given = [code for code in burst.codes if code is not None]
        assert len(set(given)) == len(given), "a code went out twice"
    print(f"{label:<22} burst  {burst.line(peak)} given={len(given)}")
    print(f"{floor:<22} burst  {floor_burst.line(floor_peak)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--codes", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workers", type=int, default=1, help="web processes")
    parser.add_argument("--burst", type=int, default=0, help="readers in the burst")
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=10.0, help="client timeout, s")
    parser.add_argument("--connections", type=int, default=64, help="burst connections")
    parser.add_argument("--staff", action="store_true", help="a librarian in the console too")
    parser.add_argument("--logins", type=int, default=20, help="the librarian's log-ins")
    parser.add_argument("--pool-mb", type=float, default=4.9, help="the pool file previewed")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        _run(backend, args)


if __name__ == "__main__":
    main()
