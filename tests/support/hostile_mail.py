"""Hostile mail: CPython's own e-mail test corpus turned into requests, and an attack set
with one message for each way mail has broken the door (addresses, encodings, sizes,
nesting, identities). Used by tests/integration/test_hostile_mail.py and
bench/hostile_mail.py."""

from __future__ import annotations

import glob
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_DROPPED = re.compile(rb"^(?:subject|from)\s*:", re.IGNORECASE)


def corpus_dir() -> Path:
    """`test/test_email/data` of the installed Python; on Debian's Python the package
    libpython3.X-testsuite holds it (scripts/setup.sh installs it when missing)."""
    candidates = [Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"]
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/python3*/test/test_email/data"))]
    for candidate in candidates:
        if len(list(candidate.glob("msg_*.txt"))) >= 40:
            return candidate
    raise FileNotFoundError(
        "CPython's e-mail test corpus (test/test_email/data/msg_*.txt) is not installed; "
        "scripts/setup.sh installs it"
    )


def as_request(raw: bytes, sender: str) -> bytes:
    """The message with its Subject and From replaced: a request from `sender`; every
    other header (Message-ID included) and the body as they were."""
    match = _HEADER_END.search(raw)
    head, body = (raw[: match.start()], raw[match.start() :]) if match else (raw, b"\n\n")
    kept: list[bytes] = []
    skipping = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = bool(_DROPPED.match(line))
        if not skipping:
            kept.append(line)
    new = f"From: Czytelnik <{sender}>\nSubject: EMPIK GO\n".encode()
    return new + b"".join(kept) + body


def corpus() -> list[tuple[str, bytes]]:
    found = sorted(corpus_dir().glob("msg_*.txt"))
    return [
        (path.name, as_request(path.read_bytes(), f"corpus{n}@example.com"))
        for n, path in enumerate(found)
    ]


@dataclass(frozen=True)
class Attack:
    name: str
    raw: bytes
    outcome: str  # what must become of it
    replies: int = 1  # replies that must reach the sink (0: none may)


def _mail(headers: str, body: bytes | str, *, charset: str | None = "utf-8") -> bytes:
    content_type = f"text/plain; charset={charset}" if charset else "text/plain"
    head = f"{headers}\nMIME-Version: 1.0\nContent-Type: {content_type}\n\n"
    return head.encode("utf-8") + (body.encode("utf-8") if isinstance(body, str) else body)


def _request(n: int, headers: str, body: bytes | str, **kwargs: str | None) -> bytes:
    return _mail(
        f"Subject: EMPIK GO\nMessage-ID: <attack-{n}@example.com>\n{headers}", body, **kwargs
    )


# Readers the attacks write as; card numbers 2000001... (PATRONS_CSV is what staff import).
PATRONS_CSV = """card_number;first_name;last_name;email;active;contact_confirmed_on;balance
2000001;Łukasz;Wrzosek;łukasz@przykład.pl;tak;2026-09-01;
2000002;Anna;Szeroka;anna.szeroka@example.com;tak;2026-09-01;
2000003;Jan;Arabski;jan.arabski@example.com;tak;2026-09-01;
2000004;Małgorzata;Żółkiewska;m.zolkiewska@example.com;tak;2026-09-01;
2000005;Bożena;Długosz;b.dlugosz@example.com;tak;2026-09-01;
2000006;Jan;Długiid;jan.dlugiid@example.com;tak;2026-09-01;
2000007;Ewa;Nagłówek;ewa.naglowek@example.com;tak;2026-09-01;
2000008;Piotr;Kopia;piotr.kopia@example.com;tak;2026-09-01;
2000009;Adam;Pierwszy;adam.pierwszy@example.com;tak;2026-09-01;
2000010;Beata;Druga;beata.druga@example.com;tak;2026-09-01;
2000011;Zenon;Idna;zenon.idna@example.com;tak;2026-09-01;
2000012;Karol;Gniazdo;karol.gniazdo@example.com;tak;2026-09-01;
2000013;Lucyna;Iso;lucyna.iso@example.com;tak;2026-09-01;
2000014;Wit;Wątek;wit.watek@example.com;tak;2026-09-01;
2000015;Nula;Bajtowa;nul@example.com;tak;2026-09-01;
2000016;Wielki;Nagłówek;big.header@example.com;tak;2026-09-01;
2000017;Base;Sześćdziesiąt;b64@example.com;tak;2026-09-01;
2000018;Nieznany;Zestaw;unknown8@example.com;tak;2026-09-01;
2000019;Pusty;List;empty@example.com;tak;2026-09-01;
"""
# The attacks' senders are readers on file (the last five): their messages go through the
# body's parsing and the rules, which is what they attack; a sender on file for no reader
# gets the neutral reply whatever the body holds (RULES section 9).


def _nested(depth: int) -> str:
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth)
    )
    closing = "".join(f"\n--b{i}--\n" for i in reversed(range(depth)))
    return opening + "Content-Type: text/plain\n\nKarol Gniazdo\nnr karty 2000012\n" + closing


def attacks() -> list[Attack]:
    cp1250 = "Dzień dobry,\nMałgorzata Żółkiewska\nnr karty 2000004\n".encode("cp1250")
    iso = "Dzień dobry, proszę.\nLucyna Iso, Świętokrzyska\nnr karty 2000013\n".encode("iso8859-2")
    long_line = "x" * 1_048_576
    nested = _nested(1000).encode()
    return [
        Attack(
            "From: an encoded word that decodes to an address",
            _request(1, "From: =?utf-8?q?=C5=82ukasz=40example.com?=", "Łukasz, karta 2000001"),
            "no-sender",
            0,
        ),
        Attack(
            "From: an internationalised address (SMTPUTF8)",
            _request(2, "From: Łukasz <łukasz@przykład.pl>", "Łukasz Wrzosek\nkarta 2000001"),
            "issued",
        ),
        Attack(
            "From: a 300-character address",
            _request(3, f"From: <{'a' * 300}@example.com>", "Jan\nkarta 1000001"),
            "no-sender",
            0,
        ),
        Attack(
            "From: an address written in the display name",
            _request(4, "From: lukasz.zak@example.com <evil@x.test>", "Łukasz Żak\nkarta 1000001"),
            "no-sender",
            0,
        ),
        Attack(
            "From: two From headers",
            _request(
                5,
                "From: lukasz.zak@example.com\nFrom: evil@x.test",
                "Łukasz Żak\nkarta 1000001",
            ),
            "no-sender",
            0,
        ),
        Attack(
            "From: an encoded display name hiding CR LF",
            _request(
                6,
                "From: =?utf-8?q?Ewa=0D=0ABcc=3A_evil=40x.test?= <ewa.naglowek@example.com>",
                "Ewa Nagłówek\nkarta 2000007",
            ),
            "issued",
        ),
        Attack(
            "From: a branch mailbox of the library itself",
            _request(7, "From: w63@biblioteka.test", "karta 1000001"),
            "automatic",
            0,
        ),
        Attack(
            "From: a group with no address",
            _request(8, "From: undisclosed-recipients:;", "karta 1000001"),
            "no-sender",
            0,
        ),
        Attack(
            "Message-ID of 20,000 characters",
            _mail(
                f"Subject: EMPIK GO\nMessage-ID: <{'m' * 20_000}@example.com>\n"
                "From: jan.dlugiid@example.com",
                "Jan Długiid\nkarta 2000006",
            ),
            "issued",
        ),
        Attack(
            "References with 500 message ids",
            _request(
                9,
                "From: wit.watek@example.com\nReferences: "
                + " ".join(f"<ref{i}@example.com>" for i in range(500)),
                "Wit Wątek\nkarta 2000014",
            ),
            "issued",
        ),
        Attack(
            "card number in fullwidth digits",
            _request(10, "From: anna.szeroka@example.com", "Anna Szeroka\nnr karty ２０００００２"),
            "issued",
        ),
        Attack(
            "card number in Arabic-Indic digits",
            _request(11, "From: jan.arabski@example.com", "Jan Arabski\nnr karty ٢٠٠٠٠٠٣"),
            "issued",
        ),
        Attack(
            "windows-1250 body without a charset",
            _request(12, "From: m.zolkiewska@example.com", cp1250, charset=None),
            "issued",
        ),
        Attack(
            "ISO 8859-2 body without a charset",
            _request(13, "From: lucyna.iso@example.com", iso, charset=None),
            "issued",
        ),
        Attack(
            "body in charset=idna",
            _request(
                14, "From: zenon.idna@example.com", "Zenon Idna\nkarta 2000011", charset="idna"
            ),
            "issued",
        ),
        Attack(
            "the name after a 1 MB line",
            _request(
                15, "From: b.dlugosz@example.com", f"{long_line}\nBożena Długosz\nkarta 2000005"
            ),
            "issued",
        ),
        Attack(
            "multipart nested 1,000 levels deep",
            b"Subject: EMPIK GO\nMessage-ID: <attack-16@example.com>\n"
            b"From: karol.gniazdo@example.com\nMIME-Version: 1.0\n" + nested,
            "card-missing",
        ),
        Attack(
            "NUL bytes in the subject line and body",
            _mail(
                "Subject: EMPIK\x00 GO\nMessage-ID: <attack-17@example.com>\nFrom: nul@example.com",
                b"Jan\x00Kowalski\x00\nkarta\x00 1000003\n",
            ),
            "card-not-found",
        ),
        Attack(
            "a 1 MB header",
            _request(18, f"From: big.header@example.com\nX-Junk: {long_line}", "karta 999"),
            "card-missing",
        ),
        Attack(
            "broken base64 body",
            b"Subject: EMPIK GO\nMessage-ID: <attack-19@example.com>\nFrom: b64@example.com\n"
            b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
            b"Content-Transfer-Encoding: base64\n\n!!!not*base64%%%\n====\n",
            "card-missing",
        ),
        Attack(
            "charset unknown-8bit",
            _request(
                20,
                "From: unknown8@example.com",
                "karta 1\xff\xfe".encode("latin-1"),
                charset="unknown-8bit",
            ),
            "card-missing",
        ),
        Attack(
            "the same request twice (first copy)",
            _request(21, "From: piotr.kopia@example.com", "Piotr Kopia\nkarta 2000008"),
            "issued",
        ),
        Attack(
            "the same request twice (second copy)",
            _request(21, "From: piotr.kopia@example.com", "Piotr Kopia\nkarta 2000008"),
            "duplicate",
            0,
        ),
        Attack(
            "one Message-ID, first sender",
            _mail(
                "Subject: EMPIK GO\nMessage-ID: <shared@example.com>\n"
                "From: adam.pierwszy@example.com",
                "Adam Pierwszy\nkarta 2000009",
            ),
            "issued",
        ),
        Attack(
            "one Message-ID, second sender",
            _mail(
                "Subject: EMPIK GO\nMessage-ID: <shared@example.com>\n"
                "From: beata.druga@example.com",
                "Beata Druga\nkarta 2000010",
            ),
            "issued",
        ),
        Attack(
            "no body at all",
            b"Subject: EMPIK GO\nMessage-ID: <attack-22@example.com>\nFrom: empty@example.com\n",
            "card-missing",
        ),
    ]
