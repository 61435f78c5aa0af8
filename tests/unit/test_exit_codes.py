"""A mail pass's exit code: one table, most urgent row first."""

from __future__ import annotations

import dataclasses

import pytest

from empikgo_mailer.adapters.pass_lock import PassBusy
from empikgo_mailer.domain.errors import (
    PASS_EXIT_CODES,
    DiskFull,
    ExitCode,
    PassOutcome,
    pass_exit_code,
)


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (PassOutcome(), ExitCode.OK),
        (PassOutcome(disk_full=True), ExitCode.DISK_FULL),
        (PassOutcome(busy=True), ExitCode.DATABASE),
        (PassOutcome(phase_failed=True), ExitCode.PHASE_FAILED),
        (PassOutcome(replies_failed=3), ExitCode.REPLIES_FAILED),
        (PassOutcome(replies_failed=3, undelivered_codes=1), ExitCode.UNDELIVERED_CODES),
        # Several at once: the most urgent wins.
        (PassOutcome(disk_full=True, phase_failed=True, replies_failed=2), ExitCode.DISK_FULL),
        (PassOutcome(phase_failed=True, replies_failed=2, undelivered_codes=2), 6),
        (PassOutcome(replies_failed=1, undelivered_codes=1), ExitCode.UNDELIVERED_CODES),
    ],
)
def test_a_pass_outcome_maps_to_its_documented_code(outcome: PassOutcome, code: int) -> None:
    assert pass_exit_code(outcome) == code


def test_the_codes_are_the_documented_numbers() -> None:
    # Cron jobs and monitoring match on the numbers (README, "Exit codes"): never renumber.
    assert [int(c) for c in (ExitCode.OK, ExitCode.DATABASE, ExitCode.PHASE_FAILED)] == [0, 5, 6]
    assert int(ExitCode.PHASE_FAILED) == int(ExitCode.UNREACHABLE)  # 6 kept its meaning, grew
    assert [ExitCode.DISK_FULL, ExitCode.REPLIES_FAILED, ExitCode.UNDELIVERED_CODES] == [7, 8, 9]


def test_every_field_of_the_outcome_has_a_row_and_the_rows_agree_with_the_errors() -> None:
    fields = {f.name for f in dataclasses.fields(PassOutcome)}
    assert [name for name, _ in PASS_EXIT_CODES] == [
        "disk_full",
        "busy",
        "phase_failed",
        "undelivered_codes",
        "replies_failed",
    ]
    assert {name for name, _ in PASS_EXIT_CODES} == fields
    # The same code whether a pass ends with the error or reports it.
    assert pass_exit_code(PassOutcome(disk_full=True)) == DiskFull.exit_code
    assert pass_exit_code(PassOutcome(busy=True)) == PassBusy().exit_code
