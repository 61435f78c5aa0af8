"""Importing a large patron file through the real command line: rows/s and peak memory.

    python -m bench.patron_import [--rows 100000]

The import runs as `python -m empikgo_mailer patrons import` in a child process, so the
peak resident memory printed is that of the command alone.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.servers import database
from tests.support.config import write_config

FIRST = ["Łukasz", "Zofia", "Jan", "Anna", "Grzegorz", "Małgorzata", "Piotr", "Katarzyna"]
LAST = ["Żak", "Wiśniewska", "Kowalski", "Nowak", "Dąbrowska", "Lewandowski", "Wójcik"]


def write_patrons(path: Path, rows: int) -> None:
    rnd = random.Random(7)
    with path.open("w", encoding="utf-8-sig") as out:
        out.write("card_number;first_name;last_name;email;active;contact_confirmed_on;balance\n")
        for n in range(rows):
            balance = (
                "" if rnd.random() < 0.9 else f"{rnd.randint(1, 999)},{rnd.randint(0, 99):02d}"
            )
            out.write(
                f"{n:08d};{rnd.choice(FIRST)};{rnd.choice(LAST)};reader{n}@example.com;"
                f"tak;2026-{rnd.randint(1, 10):02d}-{rnd.randint(1, 28):02d};{balance}\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        with tempfile.TemporaryDirectory() as temp, database(backend, Path(temp)) as url:
            csv = Path(temp) / "patrons.csv"
            write_patrons(csv, args.rows)
            config = write_config(Path(temp), url)
            for label in ("insert", "update"):
                started = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "empikgo_mailer",
                        "--config",
                        str(config),
                        "patrons",
                        "import",
                        str(csv),
                        "--now",
                        "2026-11-02T09:00",
                    ],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                seconds = time.perf_counter() - started
                peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                print(
                    f"{backend:<10} {label:<6} rows={args.rows} seconds={seconds:.2f} "
                    f"rows/s={args.rows / seconds:.0f} peak_rss_mb={peak_mb:.0f}"
                )


if __name__ == "__main__":
    main()
