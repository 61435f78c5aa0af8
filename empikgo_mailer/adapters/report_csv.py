"""The month report as a sheet: CSV for the grant spreadsheet and for Polish Excel."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

from empikgo_mailer.domain.eligibility import Reason
from empikgo_mailer.domain.explanations import OUTCOME_LABELS
from empikgo_mailer.domain.mail_outcomes import REFUSED_BEFORE_DECISION
from empikgo_mailer.domain.platforms import Channel
from empikgo_mailer.domain.report import MonthReport, place_name

# Every refusal the report can count, in a fixed order so that months line up in a sheet.
REFUSALS = (
    *(reason.value for reason in Reason),
    *(outcome.value for outcome in REFUSED_BEFORE_DECISION),
)
# Every header names its group first, so that a sheet sorted or filtered by header keeps
# codes given and requests refused apart: "Kody wydane: w placówce", "Odmowy: nieznana karta".
GIVEN_COLUMNS = {
    Channel.EMAIL: "Kody wydane: e-mailem",
    Channel.DESK: "Kody wydane: w placówce",
    Channel.SELF_SERVICE: "Kody wydane: z konta czytelnika",
}


def minutes(wait: timedelta | None) -> str:
    return "" if wait is None else str(round(wait.total_seconds() / 60))


def report_table(report: MonthReport, branch_names: dict[str, str]) -> list[list[object]]:
    """The report as a sheet: a header row, then one row per pool. Codes (loaded, given,
    activated) and refused requests are counted in columns of their own groups."""
    header: list[object] = [
        "Miesiąc",
        "Platforma",
        "Placówka",
        "Kody: wczytane",
        "Kody wydane: razem",
        *GIVEN_COLUMNS.values(),
        "Kody: aktywowane",
        "Kody: nieaktywowane",
        "Kody: niewykorzystane",
        "Czytelnicy z blokadą",
        "Odmowy: razem",
        *(f"Odmowy: {OUTCOME_LABELS.get(r, r)}" for r in REFUSALS),
        "Oczekiwanie: mediana (min)",
        "Oczekiwanie: najdłuższe (min)",
    ]
    return [header] + [
        [
            str(report.month),
            pool.platform.display_name,
            place_name(pool, branch_names),
            pool.loaded,
            pool.given_total,
            *(pool.given[channel] for channel in GIVEN_COLUMNS),
            pool.activated,
            pool.expired,
            pool.lapsed,
            pool.banned,
            sum(pool.refused.values()),
            *(pool.refused.get(r, 0) for r in REFUSALS),
            minutes(pool.median_wait),
            minutes(pool.longest_wait),
        ]
        for pool in report.pools
    ]


def write_csv(
    report: MonthReport, path: Path, branch_names: dict[str, str], *, delimiter: str = ","
) -> None:
    # utf-8-sig: Excel opens it with Polish letters intact.
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        csv.writer(stream, delimiter=delimiter).writerows(report_table(report, branch_names))


def csv_bytes(report: MonthReport, branch_names: dict[str, str]) -> bytes:
    """The report as Polish Excel opens it by a double click: semicolons (a comma is the
    decimal mark there), UTF-8 with a byte-order mark."""
    stream = io.StringIO(newline="")
    csv.writer(stream, delimiter=";").writerows(report_table(report, branch_names))
    return stream.getvalue().encode("utf-8-sig")
