"""What a library's IT person runs into in the first week: a configuration copied
anywhere, the library system's own column names, Polish everywhere staff look, JSON logs,
the health endpoints and the version."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import httpx
import pytest

from empikgo_mailer import __version__
from empikgo_mailer.adapters import schema
from empikgo_mailer.adapters.heartbeat import Pulse
from empikgo_mailer.adapters.outbox import Links
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.entrypoints.cli import cli as root_command
from empikgo_mailer.entrypoints.cli import main
from empikgo_mailer.entrypoints.web import create_web_app
from tests.support.cli import FIXTURES, run_cli

NOW = "--now=2026-11-02T10:00"
WARSAW = ZoneInfo("Europe/Warsaw")


def run_here(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    """The command line in this process (fast); the configuration named explicitly."""
    capsys.readouterr()
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def example_anywhere(directory: Path, extra: str = "") -> Path:
    """The packaged example, written out by the program into a directory of its own."""
    directory.mkdir(parents=True, exist_ok=True)
    text = run_cli(directory / "none.toml", {}, "example-config").stdout
    assert text.startswith("# empikgo-mailer configuration")
    config = directory / "empikgo.toml"
    config.write_text(text.replace('data_dir = "../data"', 'data_dir = "data"') + extra)
    return config


def test_a_configuration_anywhere_uses_the_packaged_texts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = example_anywhere(tmp_path / "etc")
    for step in (
        ["init"],
        ["patrons", "import", str(FIXTURES / "patrons.csv"), NOW],
        [
            "codes",
            "import",
            str(FIXTURES / "codes/empik-go-w63.txt"),
            "--platform",
            "empik-go",
            "--month",
            "2026-11",
            "--branch",
            "w63",
            NOW,
        ],
        # The sample loans fit the example's locations.
        ["loans", "import", str(FIXTURES / "loans.csv"), "--now=2026-11-16T07:00"],
    ):
        code, out, err = run_here(capsys, config, *step)
        assert code == ExitCode.OK, (step, out, err)
    code, slip, err = run_here(
        capsys,
        config,
        "issue",
        "--branch",
        "w63",
        "--card",
        "1000001",
        "--platform",
        "empik-go",
        NOW,
    )
    assert code == ExitCode.OK, err
    assert "Twój kod Empik Go: EGW-" in slip

    # A library's own directory overrides one text; the others stay as shipped.
    own = tmp_path / "etc" / "own-texts"
    own.mkdir()
    (own / "desk_slip.txt.j2").write_text("Kod dla czytelnika: {{ code }}\n")
    text = config.read_text()
    config.write_text(
        text.replace('# templates_dir = "my-templates"', 'templates_dir = "own-texts"')
    )
    code, slip, err = run_here(
        capsys,
        config,
        "issue",
        "--branch",
        "w63",
        "--card",
        "1000002",
        "--platform",
        "empik-go",
        NOW,
    )
    assert code == ExitCode.OK, err
    assert slip.startswith("Kod dla czytelnika: ")


POLISH_PATRONS = (
    "Numer karty;Imię;Nazwisko;E-mail;Aktywny;Data potwierdzenia danych;Saldo\n"
    "2000001;Anna;Nowak;anna.nowak@example.com;tak;01.09.2026;0,00\n"
)
POLISH_LOANS = (
    "Nr karty;Kod kreskowy;Lokalizacja;Data wypożyczenia;Termin zwrotu;Data zwrotu;"
    "Prolongaty;Limit prolongat;Rezerwacja\n"
    "2000001;0000999901;w63;01.10.2026;31.10.2026;;0;2;nie\n"
)


def test_exports_with_polish_headers_and_the_librarys_own_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = example_anywhere(
        tmp_path,
        '\n[import_columns.patrons]\n"Nr czytelnika" = "card_number"\n"Adres poczty" = "email"\n',
    )
    assert run_here(capsys, config, "init")[0] == 0
    patrons = tmp_path / "czytelnicy.csv"
    patrons.write_text(POLISH_PATRONS, encoding="utf-8")
    code, out, err = run_here(capsys, config, "patrons", "import", str(patrons), NOW)
    assert code == ExitCode.OK, err
    assert "card_number ← „Numer karty”" in out
    assert "contact_confirmed_on ← „Data potwierdzenia danych”" in out
    assert "nowych: 1" in out

    loans = tmp_path / "wypozyczenia.csv"
    loans.write_text(POLISH_LOANS, encoding="utf-8")
    code, out, err = run_here(capsys, config, "loans", "import", str(loans), NOW)
    assert code == ExitCode.OK, err
    assert "item_barcode ← „Kod kreskowy”" in out and "nowych 1" in out

    # Names only this library's system uses, from [import_columns.patrons].
    own = tmp_path / "own.csv"
    own.write_text(
        POLISH_PATRONS.replace("Numer karty", "Nr czytelnika").replace("E-mail", "Adres poczty"),
        encoding="utf-8",
    )
    code, out, err = run_here(capsys, config, "patrons", "import", str(own), NOW)
    assert code == ExitCode.OK, err
    assert "card_number ← „Nr czytelnika”" in out

    # A file without some columns: one line naming them, and nothing imported.
    short = tmp_path / "short.csv"
    short.write_text("Numer karty;Imię;Nazwisko\n2000002;Jan;Kowal\n", encoding="utf-8")
    code, out, err = run_here(capsys, config, "patrons", "import", str(short), NOW)
    assert code == ExitCode.BAD_INPUT
    [line] = err.strip().splitlines()
    assert "Brak kolumn" in line
    assert (
        "e-mail (email), aktywny (active), data potwierdzenia danych (contact_confirmed_on), "
        "saldo (balance)" in line
    )


ENGLISH = re.compile(
    r"Usage:|Options:|Commands:|Show this message|\[required\]|\[default:|"
    r"\b(INTEGER|TEXT|PATH|FILENAME|FLOAT|OPTIONS|COMMAND)\b"
)


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def test_every_help_and_usage_error_is_polish(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _commands(root_command)
    assert len(commands) > 30
    for path in commands:
        capsys.readouterr()
        assert main([*path, "--help"]) == 0, path
        shown = capsys.readouterr().out
        assert not ENGLISH.search(shown), (path, ENGLISH.search(shown), shown)
        assert shown.startswith("Użycie: "), path
    for args, expected in (
        (["runn"], "Błąd: Nieznane polecenie 'runn'. Czy chodziło o 'run'?"),
        (["demo", "--port", "abc"], "Błąd: Niepoprawna wartość '--port': „abc” to nie jest liczba"),
        (
            ["staff", "add", "--role", "boss"],
            "Błąd: Niepoprawna wartość '--role': „boss” — dozwolone",
        ),
        (["run", "--once", "extra"], "Błąd: Nadmiarowe argumenty: extra"),
    ):
        capsys.readouterr()
        assert main(args) == ExitCode.USAGE
        error = capsys.readouterr().err
        assert error.startswith(expected), error


def _offset(moment: datetime) -> str:
    return moment.isoformat()[-6:]


def test_version_and_json_logs(tmp_path: Path) -> None:
    done = run_cli(Path("none.toml"), {}, "--version")
    assert done.stdout.strip() == f"empikgo-mailer {__version__}"
    config = example_anywhere(tmp_path)
    assert run_cli(config, {}, "init").returncode == 0
    # Log lines are stamped when they are written, in Warsaw time (with its offset of the
    # day: +01:00 in winter, +02:00 in summer).
    offsets = {_offset(datetime.now(WARSAW))}
    done = run_cli(config, {"EMPIKGO_LOG_FORMAT": "json"}, "-v", "run", "--once", NOW)
    offsets.add(_offset(datetime.now(WARSAW)))
    # The example's mailboxes have no passwords: reported, and the exit code says so.
    assert done.returncode == ExitCode.UNREACHABLE
    logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert logged, done.stderr
    assert {"time", "level", "logger", "message"} <= set(logged[0])
    assert all(entry["time"][-6:] in offsets for entry in logged)
    assert "Uwaga: skrzynka placówki multimedia jest nieosiągalna" in done.stderr


@pytest.fixture
def web_app(sqlite_app: App) -> App:
    return sqlite_app


def test_readiness_follows_the_database_schema_and_heartbeat(web_app: App) -> None:
    moment = datetime(2026, 11, 2, 10, 0, tzinfo=WARSAW)
    clock = [moment]
    web = create_web_app(web_app, lambda: clock[0])

    async def get(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://it") as client:
            return await client.get(path)

    assert asyncio.run(get("/healthz")).json() == {"status": "ok"}
    waiting = asyncio.run(get("/readyz"))
    assert waiting.status_code == 503
    assert waiting.json()["checks"]["daemon"].startswith("no heartbeat yet")
    Pulse(web_app.db).beat(moment, 0.4, None)
    assert asyncio.run(get("/readyz")).status_code == 200
    clock[0] = moment + timedelta(seconds=web_app.settings.web.heartbeat_max_age_seconds + 1)
    stale = asyncio.run(get("/readyz"))
    assert stale.status_code == 503 and stale.json()["checks"]["daemon"].startswith("stale")
    metrics = asyncio.run(get("/metrics")).text
    assert "empikgo_pass_duration_seconds 0.4" in metrics
    assert 'empikgo_requests_waiting{branch="multimedia"} 0.0' in metrics
    assert schema.current_revision(web_app.db) == schema.head_revision()


def test_readiness_tells_degraded_from_ready(web_app: App) -> None:
    """A mailbox down, or SMTP paused by its breaker: still ready (the daemon does the rest
    and catches up), but said as "degraded" with the links that are down; back to "ok" once
    they work again. `healthcheck` keeps passing."""
    moment = datetime(2026, 11, 2, 10, 0, tzinfo=WARSAW)
    web = create_web_app(web_app, lambda: moment)

    def ready() -> httpx.Response:
        async def get() -> httpx.Response:
            transport = httpx.ASGITransport(app=web)
            async with httpx.AsyncClient(transport=transport, base_url="http://it") as client:
                return await client.get("/readyz")

        return asyncio.run(get())

    Pulse(web_app.db).beat(moment, 0.4, None)
    links = Links(web_app.db)
    links.worked("imap:multimedia", moment)
    assert ready().json()["status"] == "ok"
    links.failed("imap:w63", moment, "ConnectionRefusedError", lambda _: timedelta(0))
    links.failed("smtp", moment, "SMTPConnectError", lambda _: timedelta(minutes=5))
    degraded = ready()
    assert degraded.status_code == 200
    body = degraded.json()
    assert body["status"] == "degraded"
    assert body["checks"]["imap:w63"].startswith("down")
    assert body["checks"]["smtp"].startswith("paused")
    assert body["links_down"] == ["imap:w63", "smtp"]
    assert "imap:multimedia" not in body["checks"]  # a link that works is not named
    links.worked("imap:w63", moment)
    links.worked("smtp", moment)
    assert ready().json()["status"] == "ok"


def test_metrics_ask_for_their_token_when_one_is_set(web_app: App, tmp_path: Path) -> None:
    settings = load_settings(web_app.settings.source, {"EMPIKGO_METRICS_TOKEN": "scrape-me"})
    app = bootstrap(settings)
    web = create_web_app(app, lambda: datetime(2026, 11, 2, 10, 0, tzinfo=WARSAW))

    async def get(headers: dict[str, str]) -> int:
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://it") as client:
            return (await client.get("/metrics", headers=headers)).status_code

    try:
        assert asyncio.run(get({})) == 401
        assert asyncio.run(get({"Authorization": "Bearer scrape-me"})) == 200
    finally:
        app.db.dispose()
