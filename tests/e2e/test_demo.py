"""The README's first command: `empikgo-mailer demo` plays a month's first morning on
throwaway servers with a clock that moves (mail arriving, midnight, each branch opening),
decides every sample mail in both branches, serves the console, and cleans up after
Ctrl-C. Any month: this one, one long past, one to come."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.polish import day_text
from empikgo_mailer.rehearsal.demo import MORNING
from empikgo_mailer.rehearsal.ports import free_port

WARSAW = ZoneInfo("Europe/Warsaw")
WITHIN_SECONDS = 120  # from the start of the command to every sample mail decided
# What the morning's sample mails come to, in either branch, in any month.
OUTCOMES = {
    "gmail.eml": "przed 1. dniem miesiąca",
    "phone.eml": "zadłużenie",
    "thunderbird.eml": "wydano kod",
    "wrong_sender.eml": "nadawca spoza kartoteki (odpowiedź neutralna)",
    "debt.eml": "zadłużenie",
    "vacation_autoreply.eml": "odłożona dla obsługi (poczta automatyczna)",
    "no_card.eml": "odłożona dla obsługi (brak numeru karty)",
    "two_cards.eml": "odłożona dla obsługi (brak numeru karty)",
    "apple_mail.eml": "wydano kod",
    "outlook_html_only.eml": "wydano kod",
}
REPLIES = len(OUTCOMES) - 1  # no reply to the auto-reply
LINE = re.compile(r"^  (\d\d)\.(\d\d) (\d\d:\d\d)  (.*)$")


def _this_month() -> Month:
    return Month.of(datetime.now(WARSAW).date())


class Watched:
    """The demo's terminal, read line by line as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process, self.lines = process, list[str]()

    def until(self, pattern: str, deadline: float) -> re.Match[str]:
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            self.lines.append(line)
            found = re.search(pattern, line)
            if found:
                return found
            if not line and self.process.poll() is not None:
                break
        raise AssertionError("".join(self.lines))


@pytest.mark.parametrize("which", ["this month", "2026-11", "next month"])
def test_the_demo_decides_every_sample_mail_of_both_branches_on_a_moving_clock(
    which: str,
) -> None:
    before = _this_month()
    month = {"this month": before, "next month": before.plus(1)}.get(which) or Month.parse(which)
    port = free_port()
    started = time.monotonic()
    choice = [] if which == "this month" else ["--month", str(month)]
    process = subprocess.Popen(
        [sys.executable, "-m", "empikgo_mailer", "demo", "--port", str(port), *choice],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    watched = Watched(process)
    deadline = started + WITHIN_SECONDS
    root: Path | None = None
    try:
        shown = watched.until(r"pierwszy poranek miesiąca (\S+) w (\S+)", deadline)
        # Without --month: the month of the clock (the test may have started just before
        # the turn of a month).
        assert shown[1] in {str(month), str(_this_month())}
        month, root = Month.parse(shown[1]), Path(shown[2])
        password = watched.until(r"hasło: ([^)\s]+)", deadline)[1]
        watched.until(r"Wszystkie przykładowe wiadomości \(10\) rozstrzygnięte", deadline)
        told = [found for line in watched.lines if (found := LINE.match(line.rstrip("\n")))]

        # The story in the order of the clock: the evening's mail, midnight, then each
        # branch opens and decides its own mail.
        events = [found[4] for found in told]
        midnight = next(i for i, text in enumerate(events) if text.startswith("Północ"))
        assert "gmail.eml" in events[midnight - 1]
        opened = {
            re.search(r"\((\w+)\)\.$", text)[1]: i  # type: ignore[index]
            for i, text in enumerate(events)
            if text.startswith("Otwiera się")
        }
        assert set(opened) == {"multimedia", "w63"}
        decided = {}
        for i, text in enumerate(events):
            verdict = re.match(r"(\w+) +(\S+\.eml) → (.+)$", text)
            if verdict and verdict[2] != "vacation_autoreply.eml":  # set aside when it comes
                assert i > opened[verdict[1]], f"{verdict[2]} decided before its branch opened"
            if verdict:
                decided[verdict[2]] = verdict[3]
        assert decided == OUTCOMES
        assert {a.branch for a in MORNING if a.fixture in decided} == {"multimedia", "w63"}
        # Every sample mail arrived in the night before the 1st or on it.
        first = month.first_day
        arrived = {
            date(first.year if f[2] != "12" or first.month == 12 else first.year - 1,
                 int(f[2]), int(f[1]))
            for f in told
            if "przychodzi:" in f[4]
        }  # fmt: skip
        assert arrived == {first - timedelta(days=1), first}

        # A reply went out for every mail but the auto-reply (codes, refusals, and "write
        # again with your card number"), each kept as a file; the last may still be leaving.
        while sum("→ odpowiedź do" in line for line in watched.lines) < REPLIES:
            watched.until(r"→ odpowiedź do", deadline)
        time.sleep(1)
        assert len(list((root / "wyslane").glob("*.eml"))) == REPLIES

        # The console is the demo's: logged in, it shows the codes given and the demo's
        # moment, on the day the last branch opened.
        last = next(f for f in reversed(told) if f[4].startswith("Otwiera się"))
        opening_day = date(first.year, int(last[2]), int(last[1]))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as browser:
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
            moment = re.search(r'data-figure="rehearsal-moment">([^<]+)<', dashboard)
            assert moment is not None and moment[1].startswith(day_text(opening_day))
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)  # reads to the end and closes the pipe
        watched.lines.append(rest)
    assert process.returncode == 0, "".join(watched.lines)
    assert root is not None and not root.exists()
