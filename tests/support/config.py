"""A complete configuration file for tests, written to a temporary directory."""

from __future__ import annotations

from pathlib import Path

from empikgo_mailer.config import Settings, load_settings

TEMPLATES = Path(__file__).parents[2] / "templates"

TEST_CONFIG = """
timezone = "Europe/Warsaw"
data_dir = "data"
templates_dir = "{templates_dir}"

[database]
url = "{database_url}"
busy_timeout_seconds = {busy_timeout}

[rules]
contact_max_age_months = 12
require_sender_match = true

[platforms.empik-go]
enabled = {empik_enabled}
activation_url = "https://www.empik.com/empikgo"

[platforms.legimi]
enabled = true
activation_url = "https://www.legimi.pl/mazowieckie/"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
timeout_seconds = {smtp_timeout}

[mail]
max_message_bytes = {max_message_bytes}
fetch_batch = {fetch_batch}
poll_seconds = 1

[branches.multimedia]
name = "Dzielnicowa Wypożyczalnia Multimedialna"
address = "al. Niepodległości 19/lok.C"
mailbox = "multimedia@biblioteka.test"
closures = ["2026-11-27"]

[branches.multimedia.hours]
mon = "10:00-16:00"
tue = "10:00-16:00"
wed = "10:00-16:00"
thu = "10:00-16:00"
fri = "10:00-16:00"

[branches.multimedia.imap]
host = "127.0.0.1"
port = {imap_port}
security = "none"
username = "multimedia"
timeout_seconds = 10

[branches.w63]
name = "Wypożyczalnia dla Dorosłych i Młodzieży nr 63"
address = "ul. Pułku Baszta 5"
mailbox = "w63@biblioteka.test"

[branches.w63.hours]
mon = "12:00-19:00"
tue = "09:00-16:00"
wed = "12:00-19:00"
thu = "09:00-16:00"
fri = "09:00-16:00"

[branches.w63.imap]
host = "127.0.0.1"
port = {imap_port}
security = "none"
username = "w63"
timeout_seconds = 10

[locations.multimedia]
name = "Biblioteka Główna"
accepts_transfers = true

[locations.w63]
name = "Filia nr 1"
daily_rate = "0.50"
accepts_transfers = true
renewal_days = 14

[locations.czytelnia-naukowa]
name = "Biblioteka Wydziału Fizyki"
accepts_transfers = false
"""


MAILBOX_PASSWORDS = {"multimedia": "multimedia-secret", "w63": "w63-secret"}
MAIL_ENV = {f"EMPIKGO_IMAP_PASSWORD_{user.upper()}": pw for user, pw in MAILBOX_PASSWORDS.items()}


def write_config(
    directory: Path,
    database_url: str,
    *,
    empik_enabled: bool = True,
    imap_port: int = 1143,
    smtp_port: int = 2525,
    max_message_bytes: int = 10 * 1024 * 1024,
    fetch_batch: int = 200,
    busy_timeout: float = 15,
    smtp_timeout: float = 10,
    extra: str = "",
) -> Path:
    path = directory / "empikgo.toml"
    path.write_text(
        TEST_CONFIG.format(
            database_url=database_url,
            empik_enabled=str(empik_enabled).lower(),
            templates_dir=TEMPLATES,
            imap_port=imap_port,
            smtp_port=smtp_port,
            max_message_bytes=max_message_bytes,
            fetch_batch=fetch_batch,
            busy_timeout=busy_timeout,
            smtp_timeout=smtp_timeout,
        )
        + extra,
        encoding="utf-8",
    )
    return path


def settings_for(directory: Path, database_url: str, *, empik_enabled: bool = True) -> Settings:
    return load_settings(write_config(directory, database_url, empik_enabled=empik_enabled), {})
