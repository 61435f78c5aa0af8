"""Chromium driven by Playwright, and the console's `web` process for a test. The browser is
Debian's package where there is one (Playwright cannot download browsers on machines
without its CDN); else, as on Ubuntu, whose Chromium is a snap, the one `playwright
install` put in its cache (scripts/setup.sh does that there)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from playwright.sync_api import Browser, sync_playwright

DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM = os.environ.get("EMPIKGO_CHROMIUM") or (
    DEBIAN_CHROMIUM if Path(DEBIAN_CHROMIUM).exists() else None  # None: Playwright's own
)
# Root in CI needs --no-sandbox; the rest keep Chromium off the closed network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONSOLE_TOKEN = "console-tests-token"
SCREENSHOTS = Path(__file__).parents[2] / "build" / "screenshots"


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass(frozen=True)
class WebProcess:
    url: str
    pid: int


@contextmanager
def web_process(
    config: Path,
    port: int,
    now: str,
    log_path: Path,
    *,
    token: str = CONSOLE_TOKEN,
    workers: int = 1,
) -> Iterator[WebProcess]:
    """`empikgo-mailer web` at the moment `now` (`-vv`), until the block ends; `token` is
    the catalogue's bearer token, `workers` its number of processes."""
    env = {**os.environ, "EMPIKGO_API_TOKEN": token}
    command = [
        sys.executable, "-m", "empikgo_mailer", "--config", str(config), "-vv", "web",
        "--host", "127.0.0.1", "--port", str(port), "--now", now, "--workers", str(workers),
    ]  # fmt: skip
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30 + 15 * workers
    try:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"web did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield WebProcess(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)
