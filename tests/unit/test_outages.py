"""An outage is said once when it begins, reminded after 1, 5, 15 and every 60 minutes,
once more for a new kind of error, and once when it ends (domain/outages)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from empikgo_mailer.domain.outages import Notice, Outages

START = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw"))


def said_over(outages: Outages, seconds: int, kind: str = "OperationalError") -> list[int]:
    """A failure every second for `seconds`; the seconds at which something was said."""
    said = []
    for second in range(seconds):
        if outages.failed("database", START + timedelta(seconds=second), kind, "refused"):
            said.append(second)
    return said


def test_a_failure_a_second_for_two_hours_is_said_six_times() -> None:
    assert said_over(Outages(), 2 * 3600 + 1) == [0, 60, 300, 900, 3600, 7200]


def test_the_end_of_an_outage_is_said_once_with_its_length() -> None:
    outages = Outages()
    said_over(outages, 90)
    ended = outages.worked("database", START + timedelta(seconds=95))
    assert ended is not None and ended.notice is Notice.ENDED
    assert (ended.lasted, ended.failures) == (timedelta(seconds=95), 90)
    assert outages.worked("database", START + timedelta(seconds=96)) is None
    assert not outages.down("database")


def test_a_new_kind_of_error_within_an_outage_is_said_once() -> None:
    outages = Outages()
    outages.failed("database", START, "OperationalError", "refused")
    changed = outages.failed("database", START + timedelta(seconds=5), "DiskFull", "no space")
    assert changed is not None and changed.first_of_kind and changed.notice is Notice.STILL
    again = outages.failed("database", START + timedelta(seconds=6), "DiskFull", "no space")
    assert again is None


def test_links_have_outages_of_their_own() -> None:
    outages = Outages()
    assert outages.failed("imap:w63", START, "OSError", "refused") is not None
    assert outages.failed("database", START, "OSError", "refused") is not None
    assert outages.worked("imap:w63", START) is not None
    assert outages.down("database")


def test_a_working_link_says_nothing() -> None:
    assert Outages().worked("smtp", START) is None
