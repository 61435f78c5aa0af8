"""Legimi claims over HTTP against `empikgo-mailer web` as a real process: the first
minutes of a month, when readers press "Pobierz kod Legimi" all at once.

    python -m bench.legimi_http [--readers 2000] [--codes 1500] [--clients 16] [--backend both]

Every reader claims twice (the second answer must be the same code); the run checks that
no code went out twice, then prints claims per second, latency percentiles and the web
process's peak memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.servers import database, seed_patrons
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.config import write_config
from tests.support.data import add_codes

TOKEN = "bench-token"  # noqa: S105


def _seed(url: str, cards: list[str], codes: int) -> None:
    db = Database(url)
    seed_patrons(db, cards)
    add_codes(db, Platform.LEGIMI, Month(2027, 1), None, [f"LGM-{n:06d}" for n in range(codes)])
    db.dispose()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _run(backend: str, readers: int, codes: int, clients: int) -> None:
    with tempfile.TemporaryDirectory() as temp, database(backend, Path(temp)) as url:
        cards = [f"C{n:06d}" for n in range(readers)]
        _seed(url, cards, codes)
        config = write_config(Path(temp), url)
        text = config.read_text(encoding="utf-8") + "\n[web]\nclaims_per_card_per_minute = 10\n"
        config.write_text(text, encoding="utf-8")
        port = free_port()
        env = {**os.environ, "EMPIKGO_API_TOKEN": TOKEN}
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "empikgo_mailer",
                "--config",
                str(config),
                "web",
                "--port",
                str(port),
                "--now",
                "2027-01-04T10:00",
            ],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            # One keep-alive client per thread: creating an httpx.Client costs ~15 ms (its
            # TLS context), which would measure the benchmark rather than the server.
            local = threading.local()

            def claim_twice(card: str) -> tuple[str | None, float, float]:
                if not hasattr(local, "client"):
                    local.client = httpx.Client(base_url=base, headers=headers, timeout=30)
                client: httpx.Client = local.client
                started = time.perf_counter()
                first = client.post("/api/legimi/claims", json={"card_number": card}).json()
                middle = time.perf_counter()
                second = client.post("/api/legimi/claims", json={"card_number": card}).json()
                assert second["code"] == first["code"], card
                return first["code"], middle - started, time.perf_counter() - middle

            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                results = list(pool.map(claim_twice, cards))
            seconds = time.perf_counter() - started
            peak = _peak_rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=10)
        given = [code for code, _, _ in results if code is not None]
        assert len(given) == min(codes, readers)
        assert len(set(given)) == len(given)
        firsts = sorted(first for _, first, _ in results)
        repeats = sorted(repeat for _, _, repeat in results)

        def pct(values: list[float], q: float) -> float:
            return values[min(len(values) - 1, int(q * len(values)))] * 1000

        print(
            f"{backend:<10} requests={2 * readers} given={len(given)} seconds={seconds:.2f} "
            f"requests/s={2 * readers / seconds:.0f} | first claim ms p50={pct(firsts, 0.5):.1f} "
            f"p95={pct(firsts, 0.95):.1f} p99={pct(firsts, 0.99):.1f} | repeat ms "
            f"p50={statistics.median(repeats) * 1000:.1f} | web peak RSS={peak:.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--codes", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        _run(backend, args.readers, args.codes, args.clients)


if __name__ == "__main__":
    main()
