"""Activation times as the platforms' panels export them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from empikgo_mailer.domain.timestamps import InvalidMoment, parse_moment

WARSAW = ZoneInfo("Europe/Warsaw")
LAST_MINUTE = datetime(2027, 3, 31, 23, 59, tzinfo=WARSAW)


@pytest.mark.parametrize(
    "text",
    [
        "2027-03-31 23:59",
        "2027-03-31T23:59:00",
        "2027-03-31T23:59:00+02:00",
        "2027-03-31T21:59:00Z",
        "31.03.2027 23:59",
        "31.03.2027, 23:59:00",
        "31-03-2027 23:59",
        "31/03/2027 23:59",
        "2027/03/31 23:59",
        "  31.03.2027   23:59 ",
    ],
)
def test_formats_of_one_moment(text: str) -> None:
    assert parse_moment(text, WARSAW) == LAST_MINUTE


def test_a_date_alone_is_its_first_minute() -> None:
    assert parse_moment("31.03.2027", WARSAW) == datetime(2027, 3, 31, tzinfo=WARSAW)


@pytest.mark.parametrize("text", ["", "jutro", "03/31/2027 12:00", "2027-02-30", "31.13.2027"])
def test_nonsense_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(InvalidMoment, match=r"np\. 2027-03-31 23:59|brak daty"):
        parse_moment(text, WARSAW)
