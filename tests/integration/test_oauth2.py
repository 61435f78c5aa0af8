"""SASL XOAUTH2 with real servers: Dovecot with an `oauth2` passdb that introspects tokens
at a local identity provider, and an SMTP server that takes only XOAUTH2. Google-style
refresh tokens per mailbox for a whole `run --once`; Microsoft's client credentials
through msal over HTTPS; tokens renewed before they expire; `doctor` against it all."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from empikgo_mailer.adapters import oauth2
from empikgo_mailer.adapters.smtp_sender import SmtpSender
from empikgo_mailer.config import OAuthSettings, Secret, SmtpSettings
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.rehearsal.dovecot import DovecotServer
from tests.support.cli import FIXTURES, run_cli
from tests.support.config import MAILBOX_PASSWORDS, write_config
from tests.support.mail import fixture
from tests.support.oauth_server import CLIENT_ID, CLIENT_SECRET, IdentityProvider
from tests.support.smtp import OAuthSmtpServer

OPENING = "2026-11-02T10:00"
REFRESH = {"refresh-multimedia": "multimedia", "refresh-w63": "w63", "refresh-smtp": "mailer"}


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    server = IdentityProvider(refresh_tokens=REFRESH).start()
    yield server
    server.stop()


@pytest.fixture
def oauth_dovecot(provider: IdentityProvider) -> Iterator[DovecotServer]:
    server = DovecotServer(
        MAILBOX_PASSWORDS, oauth2_introspection=f"{provider.base}/introspect"
    ).start()
    yield server
    server.stop()


def google_config(tmp_path: Path, provider: IdentityProvider, imap: int, smtp: int) -> Path:
    path = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", imap_port=imap, smtp_port=smtp
    )
    text = path.read_text()
    text = text.replace(
        "[branches.multimedia.imap]\n", '[branches.multimedia.imap]\nauth = "oauth2"\n'
    )
    text = text.replace("[branches.w63.imap]\n", '[branches.w63.imap]\nauth = "oauth2"\n')
    text = text.replace("[smtp]\n", '[smtp]\nauth = "oauth2"\nusername = "mailer"\n')
    text += (
        f'\n[oauth2]\nprovider = "google"\nclient_id = "{CLIENT_ID}"\n'
        f'token_url = "{provider.base}/google/token"\n'
    )
    path.write_text(text)
    return path


def test_a_pass_logs_in_to_imap_and_smtp_with_tokens_only(
    tmp_path: Path,
    provider: IdentityProvider,
    oauth_dovecot: DovecotServer,
) -> None:
    smtp = OAuthSmtpServer(provider.valid).start()
    try:
        config = google_config(tmp_path, provider, oauth_dovecot.port, smtp.port)
        # No password anywhere: only the app's secret and each mailbox's refresh token.
        env = {
            "EMPIKGO_OAUTH2_CLIENT_SECRET": CLIENT_SECRET,
            "EMPIKGO_OAUTH2_REFRESH_TOKEN_MULTIMEDIA": "refresh-multimedia",
            "EMPIKGO_OAUTH2_REFRESH_TOKEN_W63": "refresh-w63",
            "EMPIKGO_OAUTH2_REFRESH_TOKEN_SMTP": "refresh-smtp",
        }
        assert run_cli(config, env, "init").returncode == 0
        assert (
            run_cli(config, env, "patrons", "import", str(FIXTURES / "patrons.csv")).returncode == 0
        )
        loaded = run_cli(
            config,
            env,
            "codes",
            "import",
            str(FIXTURES / "codes/empik-go-multimedia.txt"),
            "--platform",
            "empik-go",
            "--month",
            "2026-11",
            "--branch",
            "multimedia",
            f"--now={OPENING}",
        )
        assert loaded.returncode == 0, loaded.stderr
        with oauth_dovecot.client("multimedia") as client:
            client.append(
                "INBOX",
                fixture("phone.eml"),
                msg_time=datetime.fromisoformat("2026-11-02T09:00:00+01:00"),
            )
        done = run_cli(
            config, env, "--log-format", "json", "-v", "run", "--once", f"--now={OPENING}"
        )
        assert done.returncode == ExitCode.OK, done.stderr
        assert "wydano kod: 1" in done.stdout
        [reply] = smtp.sink.messages()
        assert reply["To"] == "tomasz.kaminski@example.com"
        # The decision is logged by request id and outcome; the code never is.
        logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        [decided] = [entry for entry in logged if entry["message"] == "request decided"]
        assert (decided["outcome"], decided["branch"]) == ("issued", "multimedia")
        assert isinstance(decided["request_id"], int)
        code = re.search(r"EGM-[A-Z0-9]{4}-[A-Z0-9]{4}", reply.get_content())
        assert code is not None and code.group(0) not in done.stderr
        assert smtp.sink.logins == ["mailer"]
        assert provider.introspections >= 2  # Dovecot checked the tokens of both mailboxes
        # The reply's copy went into the Sent folder over the same token login.
        with oauth_dovecot.client("multimedia") as client:
            client.select_folder("Sent", readonly=True)
            assert len(client.search()) == 1

        # The pass left its heartbeat: status shows the daemon working, the pass clean.
        shown = run_cli(config, env, "status", "--json", f"--now={OPENING}")
        daemon = json.loads(shown.stdout)["daemon"]
        assert daemon["last_problem"] is None and daemon["pass_seconds"] > 0
        assert daemon["last_good_pass_at"] == daemon["last_pass_at"] == "2026-11-02T10:00:00+01:00"
        text = run_cli(config, env, "status", f"--now={OPENING}").stdout
        assert "Demon poczty: działa — ostatni przebieg 2 listopada 2026, godz. 10:00" in text

        checked = run_cli(config, env, "doctor")
        print(checked.stdout)
        assert checked.returncode == ExitCode.OK, checked.stdout + checked.stderr
        lines = checked.stdout.splitlines()
        assert [line.split(":")[0] for line in lines][:4] == [
            "konfiguracja",
            "sekrety",
            "katalog danych",
            "baza danych",
        ]
        assert sum(": OK — " in line for line in lines) == 6  # config, db, 2 boxes, smtp, drop

        # A refresh token the provider does not know: the mailbox is reported, not a crash.
        env["EMPIKGO_OAUTH2_REFRESH_TOKEN_W63"] = "revoked"
        again = run_cli(config, env, "run", "--once", f"--now={OPENING}")
        assert again.returncode == ExitCode.UNREACHABLE
        assert "skrzynka placówki w63 jest nieosiągalna" in again.stderr
        assert "revoked" not in again.stderr + again.stdout  # no secret in any output
    finally:
        smtp.stop()


def test_tokens_are_renewed_before_they_expire(provider: IdentityProvider) -> None:
    provider.lifetime = 301.5  # renewed 300 s before expiry: good for 1.5 s here
    settings = OAuthSettings(
        provider="google",
        client_id=CLIENT_ID,
        client_secret=Secret(CLIENT_SECRET),
        authority="",
        token_url=f"{provider.base}/google/token",
        refresh_token=Secret("refresh-w63"),
    )
    first = oauth2.access_token(settings)
    assert oauth2.access_token(settings) == first  # cached
    time.sleep(1.6)
    second = oauth2.access_token(settings)
    assert second != first and provider.valid(second, "w63")


def test_microsoft_client_credentials_through_msal_over_https(tmp_path: Path) -> None:
    provider = IdentityProvider(refresh_tokens={}, https=tmp_path).start()
    try:
        settings = OAuthSettings(
            provider="microsoft",
            client_id=CLIENT_ID,
            client_secret=Secret(CLIENT_SECRET),
            authority=f"{provider.base}/tenant",
            token_url="",
            refresh_token=None,
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("REQUESTS_CA_BUNDLE", str(provider.certificate))
            token = oauth2.access_token(settings)
            assert oauth2.access_token(settings) == token  # msal's cache, no second grant
            assert len(provider.tokens) == 1
            smtp = OAuthSmtpServer(provider.valid).start()
            try:
                sender = SmtpSender(
                    SmtpSettings(
                        host="127.0.0.1",
                        port=smtp.port,
                        security="none",
                        username="multimedia@biblioteka.test",
                        password=None,
                        timeout_seconds=10,
                        oauth=settings,
                    )
                )
                offered = asyncio.run(sender.check())
            finally:
                smtp.stop()
        assert "AUTH" in offered
        assert smtp.sink.logins == ["multimedia@biblioteka.test"]
    finally:
        provider.stop()
