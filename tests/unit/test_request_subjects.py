"""Which subjects are requests (RULES.md section 2): the words EMPIK GO however real
clients, phones and mail gateways write them, and nothing that merely looks like them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empikgo_mailer.domain.mail_requests import is_request_subject, read_message
from empikgo_mailer.domain.names import names_match

REQUESTS = [
    # Case and spacing.
    "EMPIK GO",
    "Empik Go",
    "empik go",
    "EmpikGo",
    "EMPIKGO",
    "Empik  Go",
    " EMPIK GO ",
    "Empik-Go",
    "Empik_Go",
    "E M P I K  G O",
    # Reply and forward prefixes: Polish, English, German, Dutch, Nordic, French clients.
    "Re: EMPIK GO",
    "RE: EMPIK GO",
    "Odp: EMPIK GO",
    "Odp.: EMPIK GO",
    "ODP: Odp: EMPIK GO",
    "PD: EMPIK GO",
    "Fwd: EMPIK GO",
    "FW: EMPIK GO",
    "AW: EMPIK GO",
    "WG: EMPIK GO",
    "Antw: EMPIK GO",
    "Doorst: EMPIK GO",
    "SV: EMPIK GO",
    "VS: EMPIK GO",
    "VB: EMPIK GO",
    "TR: EMPIK GO",
    "RE[2]: EMPIK GO",
    "Re(3): EMPIK GO",
    "Re: AW: Antw: SV: EMPIK GO",
    "Re:EMPIK GO",
    # Tags and marks of mail gateways, before or after prefixes, several of them.
    "[EXTERNAL] EMPIK GO",
    "[EXTERNAL]EMPIK GO",
    "[SPAM?] Empik Go",
    "[ZEWNĘTRZNA] EMPIK GO",
    "[EXTERNAL] Re: [SPAM?] EMPIK GO",
    "Re: [EXT] EMPIK GO",
    "*** SPAM *** EMPIK GO",
    "***SPAM*** Re: EMPIK GO",
    "[EXTERNAL] E M P I K G O",
    "EMPIK GO [SPAM]",
    # Compatibility forms of the letters (NFKC).
    "ＥＭＰＩＫ　ＧＯ",
    "Re: ＥＭＰＩＫ ＧＯ",
    "ｅｍｐｉｋｇｏ",
    "𝐄𝐌𝐏𝐈𝐊 𝐆𝐎",
    "Empik\u00a0Go",  # a no-break space
    "Empik\u2009Go",  # a thin space
    # The words inside a longer subject.
    "Kod Empik Go - prośba",
    "Kod Empik Go prośba",
    "Prośba o kod EMPIK GO",
    "Prośba o kod EMPIK GO.",
    "Kod do Empik Go na listopad",
    "EMPIK GO - Jan Kowalski, karta 1000012",
    "Re: Kod Empik Go - prośba",
    "Legimi czy Empik Go?",
    "Kod Empik Go/Legimi",
    "„Empik Go”",
    "(Empik Go)",
    "Kod…Empik Go",
    "#EmpikGo",
    # A bounce's subject still names a request: it is automatic mail, told apart elsewhere.
    "Niedostarczalne: Re: EMPIK GO",
]

NOT_REQUESTS = [
    "",
    " ",
    "Legimi",
    "Fwd: zaproszenie",
    "Re: Godziny otwarcia",
    "Undelivered Mail Returned to Sender",
    "Mail delivery failed: returning message to sender",
    "Delivery Status Notification (Failure)",
    "EMPIK",
    "GO",
    "Empik",
    "Kod do Legimi, nie do Go",
    "Empik Gold",
    "Empik Gold - karta lojalnościowa",
    "Empik Go2",
    "EmpikGoPremium",
    "Empik GoGo",
    "myempikgo.pl",
    "www.empikgo.pl",
    "https://www.empikgo.pl/kod",
    "empikgo.pl",
    "Kontakt: pomoc@empikgo.pl",
    "empikgo_pl",
    "Empik - pytanie, Go",
    "Empik i Go",
    # Lookalikes from other scripts: Cyrillic, Greek, Turkish dotless i.
    "ЕМРІК GO",
    "ЕМРІК ГО",
    "EMPIK GО",  # Cyrillic O
    "ΕΜΡΙΚ GO",  # Greek Epsilon, Mu, Rho, Iota, Kappa
    "EMPıK GO",
    "empık go",
]


@pytest.mark.parametrize("subject", REQUESTS)
def test_a_request_subject(subject: str) -> None:
    assert is_request_subject(subject)


@pytest.mark.parametrize("subject", NOT_REQUESTS)
def test_not_a_request_subject(subject: str) -> None:
    assert not is_request_subject(subject)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_any_subject_is_answered_without_error(subject: str) -> None:
    assert isinstance(is_request_subject(subject), bool)


def test_the_table_is_broad() -> None:
    assert len(REQUESTS) + len(NOT_REQUESTS) >= 80


@pytest.mark.parametrize(
    ("header", "decoded"),
    [
        ("=?UTF-8?B?RU1QSUsgR08=?=", "EMPIK GO"),
        ("=?utf-8?q?EMPIK_GO?=", "EMPIK GO"),
        ("Re: =?utf-8?q?EMPIK_GO?=", "Re: EMPIK GO"),
        ("=?iso-8859-2?Q?Kod_Empik_Go_pro=B6ba?=", "Kod Empik Go prośba"),
        ("=?windows-1250?Q?Pro=9Cba_o_kod_EMPIK_GO?=", "Prośba o kod EMPIK GO"),
        # The ideographic space folds as all whitespace does in a subject.
        ("=?UTF-8?B?77yl77yt77yw77yp77yr44CA77yn77yv?=", "ＥＭＰＩＫ ＧＯ"),
        ("=?UTF-8?Q?EMPIK?= =?UTF-8?Q?_GO?=", "EMPIK GO"),  # split into two words
        ("=?UTF-8?Q?[ZEWN=C4=98TRZNA]?= EMPIK GO", "[ZEWNĘTRZNA] EMPIK GO"),
        ("=?utf-8?B?QVc6IEVNUElLIEdP?=", "AW: EMPIK GO"),
        (
            "=?UTF-8?Q?Kod_Empik_Go_-_pro=C5=9Bba_o_przydzielenie_kodu_na?=\r\n"
            " =?UTF-8?Q?_listopad?=",
            "Kod Empik Go - prośba o przydzielenie kodu na listopad",
        ),
    ],
)
def test_encoded_words_are_decoded_before_the_subject_is_matched(header: str, decoded: str) -> None:
    reading = read_message(f"From: a@example.com\r\nSubject: {header}\r\n\r\nx\r\n".encode())
    assert reading.subject == decoded
    assert reading.is_request


@pytest.mark.parametrize(
    "header",
    [
        "=?UTF-8?B?0JXQnNCg0IbQmiBHTw==?=",  # "ЕМРІК GO" in Cyrillic letters
        "=?utf-8?q?Empik_Gold?=",
        "Undelivered Mail Returned to Sender",
    ],
)
def test_encoded_lookalikes_are_not_requests(header: str) -> None:
    reading = read_message(f"From: a@example.com\r\nSubject: {header}\r\n\r\nx\r\n".encode())
    assert reading.subject is not None
    assert not reading.is_request


FIXTURES = Path(__file__).parents[2] / "fixtures" / "mail"


@pytest.mark.parametrize(
    ("fixture", "subject", "sender", "card", "reader"),
    [
        (
            "outlook_gateway_external.eml",
            "[EXTERNAL] EMPIK GO",
            "m.dabrowska@example.com",
            "1000006",
            ("Małgorzata", "Dąbrowska"),
        ),
        (
            "antw_outlook_nl.eml",  # the quoted reply's two numbers stay out
            "Antw: EMPIK GO",
            "agnieszka.zielinska@example.com",
            "1000010",
            ("Agnieszka", "Zielińska"),
        ),
        (
            "fullwidth_subject.eml",
            "ＥＭＰＩＫ ＧＯ",
            "michal.szymanski@example.com",
            "1000011",
            ("Michał", "Szymański"),
        ),
        (
            "subject_with_words.eml",
            "Kod Empik Go prośba",
            "jan.kowalski@example.com",
            "1000003",
            ("Jan", "Kowalski"),
        ),
        (
            "thunderbird_signature_card.eml",  # the card and the name only in the signature
            "EMPIK GO",
            "ewa.wozniak@example.com",
            "1000012",
            ("Ewa", "Woźniak"),
        ),
    ],
)
def test_client_fixtures_are_requests_with_one_card(
    fixture: str, subject: str, sender: str, card: str, reader: tuple[str, str]
) -> None:
    reading = read_message((FIXTURES / fixture).read_bytes())
    assert reading.subject == subject
    assert reading.is_request
    assert reading.automatic is None
    assert reading.problems == ()
    assert reading.sender.address == sender
    assert reading.request.cards == (card,)
    assert reading.request.card == card
    assert names_match(reading.request.name_words, *reader)
