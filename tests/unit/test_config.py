"""Configuration: the example file is complete, and every mistake is one clear line."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from empikgo_mailer.config import (
    EXAMPLE_CONFIG,
    REQUIRED,
    ConfigError,
    ImapSettings,
    JobSettings,
    MailSettings,
    SmtpSettings,
    WebSettings,
    load_settings,
    read_environment,
)
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.entrypoints.cli import main
from tests.support.config import TEMPLATES, TEST_CONFIG

EXAMPLE = Path(__file__).parents[2] / "config" / "empikgo.example.toml"


def configured() -> str:
    return TEST_CONFIG.format(
        database_url="sqlite:///x.sqlite3",
        empik_enabled="true",
        templates_dir=TEMPLATES,
        imap_port=1143,
        smtp_port=2525,
        max_message_bytes=10**7,
        fetch_batch=200,
        busy_timeout=15,
        smtp_timeout=10,
    )


def test_example_configuration_loads_with_both_branches() -> None:
    settings = load_settings(EXAMPLE, {"EMPIKGO_IMAP_PASSWORD_W63": "s3cret"})
    assert set(settings.branches) == {"multimedia", "w63"}
    multimedia = settings.branches["multimedia"]
    assert multimedia.address == "al. Niepodległości 19/lok.C"
    assert [str(multimedia.hours.weekly[d][0]) for d in range(5)] == ["10:00:00"] * 5
    assert 5 not in multimedia.hours.weekly and 6 not in multimedia.hours.weekly
    assert settings.branches["w63"].imap.password is not None
    assert settings.branches["multimedia"].imap.password is None
    assert (
        settings.platforms[Platform.LEGIMI].activation_url == "https://www.legimi.pl/mazowieckie/"
    )
    assert settings.policy.contact_max_age_months == 12 and settings.policy.require_sender_match
    assert str(settings.timezone) == "Europe/Warsaw"
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith(
        "data/empikgo.sqlite3"
    )


def test_locations_with_their_rates_and_transfer_rules() -> None:
    locations = load_settings(EXAMPLE, {}).locations
    assert [(x.id, x.daily_rate_grosze, x.accepts_transfers) for x in locations.values()] == [
        ("multimedia", 30, True),
        ("w63", 30, True),
        ("czytelnia-naukowa", 30, False),
    ]


def test_a_location_belongs_to_the_branch_that_takes_its_payments(tmp_path: Path) -> None:
    """The branch of the same id by default, another one when named, none otherwise: a
    location with no branch takes payments from heads and admins only."""
    settings = load_settings(EXAMPLE, {})
    assert {x.id: x.branch_id for x in settings.locations.values()} == {
        "multimedia": "multimedia",
        "w63": "w63",
        "czytelnia-naukowa": "multimedia",
    }
    assert settings.web.trusted_proxies == ()
    path = tmp_path / "config.toml"
    path.write_text(configured() + '[web]\ntrusted_proxies = ["127.0.0.1", "10.0.0.0/8"]\n')
    settings = load_settings(path, {})
    assert settings.locations["czytelnia-naukowa"].branch_id is None
    assert settings.web.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")


def test_a_location_takes_the_default_rate_and_refuses_transfers_unless_told(
    tmp_path: Path,
) -> None:
    text = configured().split("[locations.")[0] + '[locations.x]\nname = "Punkt biblioteczny"\n'
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    (location,) = load_settings(path, {}).locations.values()
    assert (location.daily_rate_grosze, location.accepts_transfers) == (30, False)


def test_a_burst_is_sent_while_it_is_decided_from_1000_requests_unless_told(
    tmp_path: Path,
) -> None:
    assert load_settings(EXAMPLE, {}).smtp.send_while_deciding_from == 1000
    path = tmp_path / "never.toml"
    path.write_text(
        configured().replace("[smtp]\n", "[smtp]\nsend_while_deciding_from = 0\n", 1),
        encoding="utf-8",
    )
    assert load_settings(path, {}).smtp.send_while_deciding_from == 0


def test_database_url_from_environment_wins() -> None:
    url = "postgresql+psycopg://u@127.0.0.1/x"
    assert load_settings(EXAMPLE, {"EMPIKGO_DATABASE_URL": url}).database_url == url


def test_secrets_never_show_in_repr() -> None:
    settings = load_settings(EXAMPLE, {"EMPIKGO_SMTP_PASSWORD": "hunter2"})
    assert "hunter2" not in repr(settings)
    assert settings.smtp.password is not None and settings.smtp.password.value == "hunter2"


def test_the_catalogue_token_comes_from_the_environment_only() -> None:
    settings = load_settings(EXAMPLE, {"EMPIKGO_API_TOKEN": "t0ken"})
    assert settings.web.api_token is not None and settings.web.api_token.value == "t0ken"
    assert "t0ken" not in repr(settings)
    assert load_settings(EXAMPLE, {}).web.api_token is None


def test_dotenv_is_read_and_the_real_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("EMPIKGO_SMTP_PASSWORD=from-file\nEMPIKGO_TEST_ONLY=x\n", encoding="utf-8")
    monkeypatch.setenv("EMPIKGO_SMTP_PASSWORD", "from-env")
    env = read_environment(dotenv)
    assert env["EMPIKGO_SMTP_PASSWORD"] == "from-env"
    assert env["EMPIKGO_TEST_ONLY"] == "x"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('timezone = "Europe/Warsaw"', 'timezone = "Europe/Atlantis"', "timezone: nieznana strefa"),
        (
            'mon = "10:00-16:00"',
            'mon = "10-16"',
            "branches.multimedia.hours.mon: oczekiwano godzin",
        ),
        (
            'mon = "10:00-16:00"',
            'mon = "16:00-10:00"',
            "branches.multimedia.hours.mon: godzina otwarcia",
        ),
        ('mon = "10:00-16:00"', 'mon = "25:00-26:00"', "branches.multimedia.hours.mon"),
        ("port = 2525", 'port = "smtp"', "smtp.port: oczekiwano: liczba całkowita"),
        ("port = 2525", "port = 70000", "smtp.port: poza zakresem"),
        (
            "port = 2525",
            "port = 2525\nsend_while_deciding_from = -1",
            "smtp.send_while_deciding_from: poza zakresem",
        ),
        (
            'security = "none"\ntimeout_seconds = 10\n\n[mail]',
            'security = "tls"\ntimeout_seconds = 10\n\n[mail]',
            "smtp.security: dozwolone",
        ),
        (
            "contact_max_age_months = 12",
            "contact_max_age_months = true",
            "rules.contact_max_age_months: oczekiwano",
        ),
        (
            "require_sender_match = true",
            'require_sender_match = "tak"',
            "rules.require_sender_match",
        ),
        ('mailbox = "w63@biblioteka.test"', 'mailbox = "w63"', "branches.w63.mailbox"),
        ('mailbox = "w63@biblioteka.test"', "", "branches.w63.mailbox: brak wymaganej opcji"),
        ('closures = ["2026-11-27"]', 'closures = ["27.11.2026"]', "branches.multimedia.closures"),
        (
            'activation_url = "https://www.legimi.pl/mazowieckie/"',
            'activation_url = "legimi"',
            "platforms.legimi.activation_url",
        ),
        ("[rules]", "[rules]\ncontact_age = 3", "rules.contact_age: nieznana opcja"),
        ('timezone = "Europe/Warsaw"', 'timezone = "Europe/Warsaw"\n[broken', "błąd składni TOML"),
        (
            'templates_dir = "',
            'templates_dir = "/nonexistent',
            "templates_dir: nie ma takiego katalogu",
        ),
        ("[rules]", '[jobs]\nmonth_close_at = "5 po północy"\n[rules]', "jobs.month_close_at"),
        ("[rules]", "[jobs]\nscan_seconds = 0\n[rules]", "jobs.scan_seconds: poza zakresem"),
        ("[rules]", "[web]\nclaims_per_card_per_minute = 0\n[rules]", "web.claims_per_card"),
        ("[rules]", '[web]\ntoken = "x"\n[rules]', "web.token: nieznana opcja"),
        ('daily_rate = "0.50"', 'daily_rate = "pół złotego"', "locations.w63.daily_rate"),
        ('daily_rate = "0.50"', 'daily_rate = "-0,30"', "locations.w63.daily_rate: poza"),
        ('daily_rate = "0.50"', "rate = 0.5", "locations.w63.rate: nieznana opcja"),
        ('name = "Filia nr 1"', "", "locations.w63.name: brak wymaganej opcji"),
        ("[locations.czytelnia-naukowa]", "[locations.Fizyka]", "locations.Fizyka: identyfikator"),
        ("accepts_transfers = false", 'accepts_transfers = "nie"', "accepts_transfers"),
        (
            "accepts_transfers = false",
            'accepts_transfers = false\nbranch = "w99"',
            "locations.czytelnia-naukowa.branch: nie ma takiej placówki: 'w99'",
        ),
        (
            "[rules]",
            '[web]\ntrusted_proxies = ["10.0.0.300"]\n[rules]',
            "web.trusted_proxies: to nie jest adres IP ani sieć",
        ),
        ("[rules]", '[web]\ntrusted_proxies = "10.0.0.1"\n[rules]', "web.trusted_proxies"),
        (
            'url = "sqlite:///x.sqlite3"',
            'url = "postgres://u:s3cret@db.example/x"',
            "database.url: adres „postgres://u:***@db.example/x”: dla PostgreSQL napisz "
            "postgresql+psycopg://… zamiast postgres://…",
        ),
        ('url = "sqlite:///x.sqlite3"', 'url = "mysql://u@db/x"', "nieobsługiwana baza danych"),
        ('url = "sqlite:///x.sqlite3"', 'url = "::nonsense::"', "nieczytelny adres bazy danych"),
    ],
)
def test_a_wrong_option_names_the_file_and_the_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = configured()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    line = str(caught.value)
    assert line.startswith(f"{path}: ")
    assert message in line
    assert "\n" not in line
    assert "s3cret" not in line


def test_a_postgres_url_in_the_environment_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(configured(), encoding="utf-8")
    monkeypatch.setenv("EMPIKGO_DATABASE_URL", "postgres://lib:s3cret@127.0.0.1/empikgo")
    assert main(["--config", str(path), "status"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s3cret" not in err
    assert "EMPIKGO_DATABASE_URL" in err and "postgresql+psycopg://" in err


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nie ma takiego pliku"):
        load_settings(tmp_path / "nope.toml", {})


def test_the_shipped_example_names_every_option_with_its_default() -> None:
    """The option table (config.option) is the one list of keys: the example the IT person
    copies must show each of them, set to the default the loader uses."""
    example = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    imap = next(iter(example["branches"].values()))["imap"]
    sections = {
        SmtpSettings: example["smtp"],
        MailSettings: example["mail"],
        WebSettings: example["web"],
        JobSettings: example["jobs"],
        ImapSettings: imap,
    }
    for kind, section in sections.items():
        for spec in fields(kind):
            if "option" not in spec.metadata:
                continue
            assert spec.name in section, f"{kind.__name__}.{spec.name} missing from the example"
            default = spec.metadata["option"].default
            if default is not REQUIRED and default is not None:
                assert section[spec.name] == default, f"{kind.__name__}.{spec.name}"
