"""A mail pass's exit code: one table, most urgent row first, and what a pass's report
comes to."""

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
from empikgo_mailer.domain.statuses import JobState
from empikgo_mailer.entrypoints.daemon import RunReport
from empikgo_mailer.entrypoints.scheduler import JobOutcome
from empikgo_mailer.handlers.mail_send import SendReport


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


def test_a_pass_report_comes_to_its_outcome() -> None:
    assert RunReport().outcome() == PassOutcome()
    refused = RunReport(sent=SendReport(sent=5, failed=2))
    assert refused.outcome() == PassOutcome(replies_failed=2)
    assert RunReport(unreachable=["w63"]).outcome().phase_failed
    assert RunReport(sent=SendReport(unreachable="ConnectionRefused")).outcome().phase_failed
    assert RunReport(errors=["decide:w63: KeyError: 'x'"]).outcome().phase_failed
    failed_job = JobOutcome(JobState.FAILED, "błąd: ValueError: x")
    assert RunReport(jobs={"close-month": failed_job}).outcome().phase_failed
    assert RunReport(disk_full=DiskFull("/data")).outcome() == PassOutcome(disk_full=True)
    # A sender beside the pass died and the pass sent the rest itself: said, but nothing
    # waits, so it does not fail the pass.
    died = "send: SenderFailed: the sender process ended with exit code -9"
    assert not RunReport(errors=[died], made_good=[died]).outcome().phase_failed
