"""Uploads waiting for their confirmation: under their own name, and gone after a day."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from empikgo_mailer.adapters import upload_staging
from empikgo_mailer.adapters.upload_staging import (
    discard,
    remove_abandoned,
    safe_name,
    stage,
    staged,
)
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.statuses import JobState
from empikgo_mailer.entrypoints.scheduler import JOBS

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TOKEN = "a" * 43


def aged(path: Path, age: timedelta, now: datetime) -> None:
    moment = (now - age).timestamp()
    os.utime(path, (moment, moment))


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("kody listopad.xlsx", "kody listopad.xlsx"),
        ("C:\\Users\\anna\\Pulpit\\pula.csv", "pula.csv"),  # old browsers send the path
        ("../../etc/passwd", "passwd"),
        (".bashrc", "bashrc"),
        ("a\x00b\nc.csv", "abc.csv"),
        ("", "plik"),
        ("x" * 300 + ".xlsx", "x" * 115 + ".xlsx"),
    ],
)
def test_an_upload_keeps_its_own_name_and_nothing_else(sent: str, kept: str) -> None:
    assert safe_name(sent) == kept


def test_a_staged_upload_is_found_by_its_token_until_discarded(tmp_path: Path) -> None:
    path = stage(b"A-1\n", "pula.csv", TOKEN, NOW, tmp_path)
    assert path == tmp_path / TOKEN / "pula.csv"
    assert staged(TOKEN, tmp_path) == path
    assert staged("../" + TOKEN[3:], tmp_path) is None  # not a token of ours
    discard(path)
    assert staged(TOKEN, tmp_path) is None
    assert list(tmp_path.iterdir()) == []


def test_abandoned_previews_go_after_a_day_at_the_next_upload(tmp_path: Path) -> None:
    old = stage(b"A-1\n", "stara.csv", "o" * 43, NOW, tmp_path)
    aged(old.parent, timedelta(days=1, minutes=1), NOW)
    recent = stage(b"B-1\n", "nowa.csv", "r" * 43, NOW, tmp_path)
    aged(recent.parent, timedelta(hours=23), NOW)
    legacy = tmp_path / ("l" * 43 + ".txt")  # staged by the version before this one
    legacy.write_bytes(b"C-1\n")
    aged(legacy, timedelta(days=3), NOW)
    stage(b"D-1\n", "kolejna.csv", TOKEN, NOW, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [TOKEN, "r" * 43]


def test_the_daily_job_removes_abandoned_previews(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "uploads"
    monkeypatch.setattr(upload_staging, "STAGING", folder)
    job = next(spec for spec in JOBS if spec.id == "upload-cleanup")
    assert job.run(app, NOW).outcome == JobState.NOTHING
    real_now = datetime.now(UTC)
    path = stage(b"A-1\n", "pula.csv", TOKEN, real_now)
    aged(path.parent, timedelta(days=2), real_now)
    outcome = job.run(app, NOW)  # the job reads real time: the files' stamps are real
    assert (outcome.outcome, outcome.summary) == (
        JobState.OK,
        "usunięto porzucone podglądy plików: 1",
    )
    assert list(folder.iterdir()) == []
    assert remove_abandoned(real_now, tmp_path / "none") == 0
