"""The Prometheus alert rules shipped in deploy/prometheus: valid (`promtool check
rules`), firing as their unit tests say (`promtool test rules`), and written against
metrics that a running `web` really exposes (a renamed metric breaks this test)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from prometheus_client.parser import text_string_to_metric_families

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.heartbeat import Pulse
from empikgo_mailer.adapters.outbox import Links
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.retries import pause_after
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.browser import web_process
from tests.support.config import write_config
from tests.support.data import add_codes
from tests.support.databases import migrated_sqlite

RULES_DIR = Path(__file__).parents[2] / "deploy" / "prometheus"
RULES = RULES_DIR / "empikgo-alerts.yml"
NOW = datetime(2027, 1, 4, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw"))


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    assert found is not None, (
        "promtool not found: install Debian's `prometheus` package (scripts/setup.sh does, "
        "with --no-install-recommends; its service is not needed)"
    )
    return subprocess.run(
        [found, *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_rules_are_valid() -> None:
    checked = promtool("check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 9 rules found" in checked.stdout


def test_the_rules_fire_as_their_unit_tests_say() -> None:
    tested = promtool("test", "rules", "empikgo-alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_metric_in_the_rules_is_in_a_real_scrape(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path)
    db = Database(url)
    add_codes(db, Platform.LEGIMI, Month(2027, 1), None, ["LGM-1"])
    Pulse(db).beat(NOW - timedelta(seconds=30), 1.0, None)
    Links(db).failed("smtp", NOW - timedelta(seconds=40), "refused", pause_after)
    db.dispose()
    with web_process(write_config(tmp_path, url), free_port(), NOW.isoformat(),
                     tmp_path / "web.log") as web:  # fmt: skip
        scraped = httpx.get(f"{web.url}/metrics", timeout=10)
    assert scraped.status_code == 200
    exposed = {
        sample.name
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    wanted = set(re.findall(r"\bempikgo_[a-z_]+", RULES.read_text(encoding="utf-8")))
    assert wanted, "no metric found in the rules"
    assert wanted <= exposed, f"in the rules, not in /metrics: {sorted(wanted - exposed)}"
    assert {"empikgo_database_up", "process_start_time_seconds"} <= exposed
