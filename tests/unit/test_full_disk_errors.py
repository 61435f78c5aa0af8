"""Which errors mean a full disk (never "busy", never waited out), and what the
operator is told."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from empikgo_mailer.adapters.database import disk_full_in, is_disk_full
from empikgo_mailer.domain.errors import DiskFull


def test_the_disk_full_line_says_what_to_do_in_polish() -> None:
    full = DiskFull("/var/lib/empikgo")
    assert f"{full.label}: {full}" == (
        "Brak miejsca na dysku: baza danych (/var/lib/empikgo) nie może nic zapisać — "
        "zwolnij miejsce i uruchom polecenie ponownie."
    )
    assert "następny przebieg dokończy pracę" in full.message(DiskFull.THEN_NEXT_RUN)
    assert str(DiskFull()).startswith("baza danych nie może")


def _sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


def _wrapped(orig: BaseException) -> OperationalError:
    return OperationalError("INSERT ...", {}, orig)


FULL = _sqlite_error("database or disk is full", 13)  # SQLITE_FULL
IO_SHMSIZE = _sqlite_error("disk I/O error", 4874)  # SQLITE_IOERR_SHMSIZE
BUSY = _sqlite_error("database is locked", 5)  # SQLITE_BUSY


class PgDiskFull(Exception):
    sqlstate = "53100"


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(FULL),
        FULL,
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        _wrapped(PgDiskFull("could not extend file")),
        DiskFull("x"),
    ],
)
def test_a_full_disk_is_told_by_its_error(error: BaseException) -> None:
    assert is_disk_full(error)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(BUSY),
        BUSY,
        OSError(errno.EIO, "Input/output error"),
        ValueError("no"),
        # A "disk I/O error" alone says nothing of space (see the next test).
        _wrapped(IO_SHMSIZE),
    ],
)
def test_busy_and_other_errors_are_not_a_full_disk(error: BaseException) -> None:
    assert not is_disk_full(error)


def test_a_disk_io_error_is_a_full_disk_only_where_there_is_no_room(tmp_path: Path) -> None:
    # tmp_path has room: the error is what it says.
    assert not is_disk_full(_wrapped(IO_SHMSIZE), tmp_path / "db.sqlite3")
    assert is_disk_full(_wrapped(IO_SHMSIZE), Path("/proc/self/db.sqlite3"))  # /proc: 0 free


def test_a_full_disk_is_found_under_other_errors_and_in_task_groups() -> None:
    full = DiskFull("/data")
    try:
        try:
            raise full
        except DiskFull as inner:
            raise RuntimeError("while sending") from inner
    except RuntimeError as outer:
        group = ExceptionGroup("lanes", [ValueError("x"), outer])
    assert disk_full_in(group) is full
    assert is_disk_full(group)
    assert disk_full_in(ExceptionGroup("lanes", [ValueError("x")])) is None
