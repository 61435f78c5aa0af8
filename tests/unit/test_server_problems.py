"""Server answers as imaplib and imapclient raise them, read back into the server's words;
socket failures into Polish lines that name host:port."""

from __future__ import annotations

import errno
import imaplib
import socket
import ssl

import pytest
from imapclient.exceptions import LoginError

from empikgo_mailer.adapters.imap_mailbox import MailboxUnavailable
from empikgo_mailer.adapters.link_errors import summary
from empikgo_mailer.adapters.server_problems import network_problem, response_code, server_text


@pytest.mark.parametrize(
    ("raised", "said"),
    [
        # imapclient's login: str() of imaplib's error holding the answer's bytes
        (
            LoginError(str(imaplib.IMAP4.error(b"[AUTHENTICATIONFAILED] Authentication failed."))),
            "AUTHENTICATIONFAILED: Authentication failed.",
        ),
        # imaplib's error with the bytes themselves
        (imaplib.IMAP4.error(b"[UNAVAILABLE] Try later"), "UNAVAILABLE: Try later"),
        # imaplib on a BAD: the command, the type and a list of bytes
        (
            imaplib.IMAP4.error("CREATE command error: BAD [b'Invalid mailbox name: \\xc5\\x82']"),
            "Invalid mailbox name: ł",
        ),
        # imapclient on a NO, with Dovecot's timing
        (
            imaplib.IMAP4.error("select failed: Mailbox doesn't exist: X (0.001 + 0.000 secs)."),
            "Mailbox doesn't exist: X.",
        ),
        (imaplib.IMAP4.abort("socket error: EOF"), "socket error: EOF"),
    ],
)
def test_the_server_answer_is_decoded(raised: Exception, said: str) -> None:
    assert server_text(raised) == said


def test_the_response_code_is_read() -> None:
    assert response_code(LoginError("b'[PRIVACYREQUIRED] Use TLS'")) == "PRIVACYREQUIRED"
    assert response_code(LoginError("b'Authentication failed.'")) is None


def problem(exc: BaseException) -> str:
    found = network_problem(
        exc,
        server="serwer IMAP",
        host="imap.example.pl",
        port=993,
        timeout=2.5,
        settings="[branches.x.imap]",
        tls_hint="993 to zwykle ssl",
    )
    assert found is not None
    return found.polish


def test_each_network_failure_has_its_own_polish_line() -> None:
    assert problem(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")) == (
        "serwer IMAP imap.example.pl:993 odmówił połączenia: sprawdź, czy serwer działa, oraz "
        "host i port w [branches.x.imap]"
    )
    assert problem(socket.gaierror(-2, "Name or service not known")).startswith(
        "nie znaleziono w DNS nazwy „imap.example.pl” (serwer IMAP imap.example.pl:993)"
    )
    assert problem(TimeoutError("timed out")).startswith(
        "serwer IMAP imap.example.pl:993 nie odpowiedział w ciągu 2,5 s"
    )
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "Hostname mismatch, certificate is not valid for 'imap.example.pl'."
    assert problem(verify).startswith(
        "certyfikat imap.example.pl:993 nie przeszedł weryfikacji (Hostname mismatch"
    )
    assert problem(OSError(errno.ENETUNREACH, "Network is unreachable")).startswith(
        "brak połączenia z imap.example.pl:993 (sieć nieosiągalna)"
    )
    assert problem(OSError(errno.ENOBUFS, "No buffer space available")).startswith(
        "brak połączenia z imap.example.pl:993 (błąd sieci ENOBUFS)"
    )
    assert (
        network_problem(
            ValueError("x"), server="s", host="h", port=1, timeout=1, settings="", tls_hint=""
        )
        is None
    )


def test_the_log_gets_a_mailbox_errors_english_line_not_the_polish_one() -> None:
    error = MailboxUnavailable(
        "Skrzynka w63: serwer IMAP odrzucił logowanie", log_text="IMAP login refused for w63"
    )
    assert summary(error) == "MailboxUnavailable: IMAP login refused for w63"
