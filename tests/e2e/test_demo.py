"""The README's first command: `empikgo-mailer demo` runs a month's first morning on
throwaway servers, serves the console, and cleans up after Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from empikgo_mailer.rehearsal.ports import free_port


def _line(process: subprocess.Popen[str], pattern: str, seen: list[str]) -> re.Match[str]:
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
        if not line and process.poll() is not None:
            break
    raise AssertionError("".join(seen))


def test_the_demo_answers_the_first_morning_and_serves_the_console() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "empikgo_mailer", "demo", "--port", str(port), "--month", "2026-11"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen: list[str] = []
    try:
        root = Path(_line(process, r"pierwszy poranek miesiąca 2026-11 w (\S+)", seen)[1])
        password = _line(process, r"hasło: (\S+)", seen)[1]
        # The multimedia branch opens first (Monday 2 November, 10:00): its five requests
        # are answered by the first pass; w63 opens at noon, so its mail waits.
        for _ in range(5):
            _line(process, r"→ odpowiedź do \S+@example\.(com|net)", seen)
        sent = root / "wyslane"
        assert len(list(sent.glob("*.eml"))) == 5

        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=10) as browser:
            form = browser.get("/logowanie").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token is not None
            answer = browser.post(
                "/logowanie",
                data={"csrf_token": token[1], "login": "demo", "password": password},
            )
            assert answer.status_code == 303
            dashboard = browser.get("/placowki/multimedia").text
            assert "wydano kod" in dashboard
            waiting = browser.get("/placowki/w63").text
            assert re.search(r'data-figure="waiting">[1-9]', waiting)
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)  # reads to the end and closes the pipe
        seen.append(rest)
    assert process.returncode == 0, "".join(seen)
    assert not root.exists()
