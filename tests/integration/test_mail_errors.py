"""What the IT person and staff are told when a mailbox cannot be used, on real servers:
one Polish line naming host:port and the variable or setting to fix, the server's own
words decoded and quoted, never a bytes repr (`b'[AUTHENTICATIONFAILED] ...'`) and never
the socket's English. `doctor` prints it; `status` shows what the daemon recorded."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from empikgo_mailer.adapters import oauth2
from empikgo_mailer.adapters.imap_mailbox import (
    LINK_ERRORS,
    ImapMailbox,
    ImapRefused,
    MailboxLinkLost,
    MailboxNotConfigured,
    MailboxUnavailable,
)
from empikgo_mailer.config import ImapSettings, OAuthSettings, Secret, Security
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.cli import run_cli
from tests.support.config import MAIL_ENV, MAILBOX_PASSWORDS, write_config
from tests.support.dovecot import DovecotServer
from tests.support.oauth_server import CLIENT_ID, CLIENT_SECRET, IdentityProvider
from tests.support.smtp import SilentServer, SmtpServer

OPENING = "--now=2026-11-02T10:00"
# What the socket layer, imaplib and Dovecot say in English; none may reach a person
# except inside the quoted server answer.
ENGLISH = re.compile(
    r"\b(failed|refused|error|Errno|timed out|Connection|Authentication|Name or service|"
    r"wrong version|not supported|command|socket|EOF)\b|b'|b\"",
    re.IGNORECASE,
)


def without_quoted(line: str, quoted: str) -> str:
    assert quoted in line, line
    return line.replace(quoted, "")


def assert_polish_only(line: str, quoted: str = "") -> None:
    rest = without_quoted(line, quoted) if quoted else line
    assert ENGLISH.search(rest) is None, line


def settings(
    port: int,
    *,
    host: str = "127.0.0.1",
    security: Security = "none",
    password: str | None = MAILBOX_PASSWORDS["multimedia"],
    timeout: float = 10,
) -> ImapSettings:
    secret = Secret(password) if password is not None else None
    return ImapSettings(
        host, port, security, "multimedia", secret, "INBOX", timeout, branch="multimedia"
    )


def failure(s: ImapSettings) -> MailboxUnavailable:
    with pytest.raises(MailboxUnavailable) as raised:
        ImapMailbox(s).connect()
    return raised.value


def mailbox_line(stdout: str, branch: str) -> str:
    [line] = [line for line in stdout.splitlines() if line.startswith(f"skrzynka {branch} (")]
    return line


# ---- the adapter ------------------------------------------------------------------------


def test_a_missing_password_names_the_variable_to_set() -> None:
    error = failure(settings(free_port(), password=None))
    assert isinstance(error, MailboxNotConfigured)
    assert str(error) == (
        "skrzynka multimedia: brak hasła IMAP użytkownika multimedia: ustaw zmienną "
        "EMPIKGO_IMAP_PASSWORD_MULTIMEDIA (w środowisku albo w pliku .env)."
    )
    assert error.log_text == (
        "mailbox multimedia: no IMAP password (EMPIKGO_IMAP_PASSWORD_MULTIMEDIA is not set)"
    )


def test_a_wrong_password_quotes_the_server_decoded(dovecot: DovecotServer) -> None:
    error = failure(settings(dovecot.port, password="wrong-password"))
    quoted = "(AUTHENTICATIONFAILED: Authentication failed.)"
    assert str(error) == (
        f"skrzynka multimedia: serwer IMAP odrzucił logowanie użytkownika multimedia {quoted}: "
        "sprawdź hasło w EMPIKGO_IMAP_PASSWORD_MULTIMEDIA i username w "
        "[branches.multimedia.imap]."
    )
    assert_polish_only(str(error), quoted)
    assert "wrong-password" not in str(error) + error.log_text
    # The log's line is English, and without a bytes repr either.
    assert error.log_text == f"mailbox multimedia: login of multimedia refused {quoted}"


def test_a_closed_port_an_unknown_host_and_silence_each_say_their_own(
    dovecot: DovecotServer,
) -> None:
    closed = free_port()
    refused = failure(settings(closed))
    assert str(refused) == (
        f"skrzynka multimedia: serwer IMAP 127.0.0.1:{closed} odmówił połączenia: sprawdź, "
        "czy serwer działa, oraz host i port w [branches.multimedia.imap]."
    )
    unknown = failure(settings(993, host="imap.biblioteka.invalid"))
    assert str(unknown).startswith(
        "skrzynka multimedia: nie znaleziono w DNS nazwy „imap.biblioteka.invalid” "
        "(serwer IMAP imap.biblioteka.invalid:993): sprawdź host"
    )
    silent = SilentServer().start()
    try:
        hung = failure(settings(silent.port, timeout=1))
    finally:
        silent.stop()
    assert str(hung).startswith(
        f"skrzynka multimedia: serwer IMAP 127.0.0.1:{silent.port} nie odpowiedział w ciągu "
        "1 s: sprawdź host, port i security w [branches.multimedia.imap]"
    )
    for error in (refused, unknown, hung):
        assert_polish_only(str(error))


def test_tls_where_the_server_has_none_says_to_check_security_and_port(
    dovecot: DovecotServer,
) -> None:
    wrapped = failure(settings(dovecot.port, security="ssl"))
    assert str(wrapped) == (
        f"skrzynka multimedia: nie udało się nawiązać TLS z 127.0.0.1:{dovecot.port} "
        "(WRONG_VERSION_NUMBER): sprawdź security i port w [branches.multimedia.imap] "
        "(993 to zwykle ssl, 143 starttls)."
    )
    starttls = failure(settings(dovecot.port, security="starttls"))
    assert str(starttls) == (
        f"skrzynka multimedia: serwer IMAP 127.0.0.1:{dovecot.port} nie oferuje STARTTLS: "
        'ustaw security = "ssl" z portem 993 w [branches.multimedia.imap].'
    )
    assert_polish_only(str(wrapped))
    assert_polish_only(str(starttls))


def test_a_folder_that_does_not_exist_is_named(dovecot: DovecotServer) -> None:
    s = settings(dovecot.port)
    error = failure(ImapSettings(**{**s.__dict__, "folder": "Skrzynka"}))
    assert str(error).startswith(
        "skrzynka multimedia: serwer IMAP nie otworzył folderu „Skrzynka” (Mailbox doesn't "
        "exist: Skrzynka.): sprawdź folder w [branches.multimedia.imap]"
    )


def test_a_link_lost_while_working_is_polish_and_still_a_link_error(
    dovecot: DovecotServer,
) -> None:
    """After the login: a broken connection is a MailboxLinkLost (the handlers re-raise
    it as a link error, the daemon records its Polish text); a NO is the server's words."""
    mailbox = ImapMailbox(settings(dovecot.port))
    mailbox.connect()
    try:
        with pytest.raises(ImapRefused) as refused:
            mailbox.ensure_folders(["~Zły folder"])
        assert str(refused.value) == "CANNOT: Invalid mailbox name: Begins with '~'."
        mailbox.interrupt()
        with pytest.raises(MailboxLinkLost) as lost:
            mailbox.uids_after(0)
    finally:
        mailbox.close()
    assert isinstance(lost.value, LINK_ERRORS)
    assert str(lost.value).startswith(f"skrzynka multimedia: serwer IMAP 127.0.0.1:{dovecot.port}")
    assert_polish_only(str(lost.value), server_words(str(lost.value)))


def server_words(line: str) -> str:
    """The parenthesised server answer in a line, if any ("" when there is none)."""
    quoted = re.search(r"\([^()]*\)", line)
    return quoted.group(0) if quoted and ENGLISH.search(quoted.group(0)) else ""


# ---- OAuth2 tokens ------------------------------------------------------------------------


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    server = IdentityProvider(refresh_tokens={"refresh-w63": "w63"}).start()
    yield server
    server.stop()


def test_a_refused_refresh_token_names_its_variable(provider: IdentityProvider) -> None:
    revoked = OAuthSettings(
        provider="google",
        client_id=CLIENT_ID,
        client_secret=Secret(CLIENT_SECRET),
        authority="",
        token_url=f"{provider.base}/google/token",
        refresh_token=Secret("revoked-token"),
        link="w63",
    )
    with pytest.raises(oauth2.TokenUnavailable) as raised:
        oauth2.access_token(revoked)
    assert str(raised.value) == (
        "serwer tokenów Google odmówił tokenu (HTTP 400, invalid_grant): sprawdź token "
        "odświeżania w EMPIKGO_OAUTH2_REFRESH_TOKEN_W63, client_id w [oauth2] i "
        "EMPIKGO_OAUTH2_CLIENT_SECRET"
    )
    assert raised.value.log_text == "Google token endpoint refused (HTTP 400, invalid_grant)"
    assert "revoked-token" not in str(raised.value) + raised.value.log_text


# ---- doctor and status --------------------------------------------------------------------


def sqlite_config(tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer) -> Path:
    """The library on a SQLite file, its mailboxes on `dovecot`, its replies to `smtp`."""
    return write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        imap_port=dovecot.port,
        smtp_port=smtp.port,
    )


def test_doctor_names_the_missing_and_the_wrong_password(
    tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    config = sqlite_config(tmp_path, dovecot, smtp)
    env = {"EMPIKGO_IMAP_PASSWORD_W63": "not-the-password"}
    assert run_cli(config, env, "init").returncode == ExitCode.OK
    checked = run_cli(config, env, "doctor")
    assert checked.returncode == ExitCode.UNREACHABLE, checked.stdout + checked.stderr
    at = f"127.0.0.1:{dovecot.port}"
    assert mailbox_line(checked.stdout, "multimedia") == (
        f"skrzynka multimedia (multimedia@{at}, none): BŁĄD — brak hasła IMAP użytkownika "
        "multimedia: ustaw zmienną EMPIKGO_IMAP_PASSWORD_MULTIMEDIA (w środowisku albo "
        "w pliku .env)"
    )
    quoted = "(AUTHENTICATIONFAILED: Authentication failed.)"
    wrong = mailbox_line(checked.stdout, "w63")
    assert wrong == (
        f"skrzynka w63 (w63@{at}, none): BŁĄD — serwer IMAP odrzucił logowanie użytkownika "
        f"w63 {quoted}: sprawdź hasło w EMPIKGO_IMAP_PASSWORD_W63 i username w "
        "[branches.w63.imap]"
    )
    assert_polish_only(checked.stdout, quoted)
    assert "not-the-password" not in checked.stdout + checked.stderr
    assert checked.stdout.count(": OK — ") == 4  # config, database, SMTP, drop folder


def test_doctor_on_a_wrong_port_and_on_tls_without_a_tls_server(
    tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    closed = free_port()
    config = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", imap_port=closed, smtp_port=smtp.port
    )
    # multimedia: the wrong port; w63: the right port, but TLS asked of a plain server.
    text = config.read_text().replace(
        f'port = {closed}\nsecurity = "none"\nusername = "w63"',
        f'port = {dovecot.port}\nsecurity = "ssl"\nusername = "w63"',
    )
    config.write_text(text)
    assert run_cli(config, MAIL_ENV, "init").returncode == ExitCode.OK
    checked = run_cli(config, MAIL_ENV, "doctor")
    assert checked.returncode == ExitCode.UNREACHABLE, checked.stdout + checked.stderr
    assert mailbox_line(checked.stdout, "multimedia") == (
        f"skrzynka multimedia (multimedia@127.0.0.1:{closed}, none): BŁĄD — serwer IMAP "
        f"127.0.0.1:{closed} odmówił połączenia: sprawdź, czy serwer działa, oraz host i port "
        "w [branches.multimedia.imap]"
    )
    assert mailbox_line(checked.stdout, "w63") == (
        f"skrzynka w63 (w63@127.0.0.1:{dovecot.port}, ssl): BŁĄD — nie udało się nawiązać "
        f"TLS z 127.0.0.1:{dovecot.port} (WRONG_VERSION_NUMBER): sprawdź security i port "
        "w [branches.w63.imap] (993 to zwykle ssl, 143 starttls)"
    )
    assert_polish_only(checked.stdout)


def test_doctor_on_smtp_refused_and_a_missing_smtp_password(
    tmp_path: Path, dovecot: DovecotServer
) -> None:
    closed = free_port()
    config = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", imap_port=dovecot.port, smtp_port=closed
    )
    assert run_cli(config, MAIL_ENV, "init").returncode == ExitCode.OK
    checked = run_cli(config, MAIL_ENV, "doctor")
    assert checked.returncode == ExitCode.UNREACHABLE
    assert (
        f"serwer SMTP (127.0.0.1:{closed}, none): BŁĄD — serwer SMTP 127.0.0.1:{closed} odmówił "
        "połączenia: sprawdź, czy serwer działa, oraz host i port w [smtp]"
    ) in checked.stdout.splitlines()
    assert_polish_only(checked.stdout)

    config.write_text(config.read_text().replace("[smtp]\n", '[smtp]\nusername = "mailer"\n'))
    checked = run_cli(config, MAIL_ENV, "doctor")
    assert (
        f"serwer SMTP (127.0.0.1:{closed}, none): BŁĄD — w [smtp] jest username „mailer”, ale "
        "brak hasła: ustaw zmienną EMPIKGO_SMTP_PASSWORD (w środowisku albo w pliku .env)"
    ) in checked.stdout.splitlines()


def test_status_shows_staff_the_polish_reason_the_daemon_recorded(
    tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    config = sqlite_config(tmp_path, dovecot, smtp)
    env = {**MAIL_ENV, "EMPIKGO_IMAP_PASSWORD_W63": "not-the-password"}
    assert run_cli(config, env, "init").returncode == ExitCode.OK
    ran = run_cli(config, env, "run", "--once", OPENING)
    assert ran.returncode == ExitCode.UNREACHABLE, ran.stdout + ran.stderr
    assert "b'" not in ran.stdout + ran.stderr

    shown = run_cli(config, env, "status", "--json", OPENING)
    links = {link["link"]: link for link in json.loads(shown.stdout)["links"]}
    quoted = "(AUTHENTICATIONFAILED: Authentication failed.)"
    recorded = links["imap:w63"]["last_error"]
    assert links["imap:w63"]["ok"] is False
    assert recorded == (
        f"skrzynka w63: serwer IMAP odrzucił logowanie użytkownika w63 {quoted}: sprawdź "
        "hasło w EMPIKGO_IMAP_PASSWORD_W63 i username w [branches.w63.imap]."
    )
    text = run_cli(config, env, "status", OPENING).stdout
    [line] = [line for line in text.splitlines() if "skrzynka placówki w63" in line]
    assert recorded in line and "NIEDOSTĘPNY" in line
    assert_polish_only(line, quoted)
    assert "not-the-password" not in shown.stdout + text + ran.stdout + ran.stderr
