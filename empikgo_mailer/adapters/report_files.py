"""Writing the month report as a chart (matplotlib: imported only by the `report` command)."""

from __future__ import annotations

import itertools
from pathlib import Path

from matplotlib.figure import Figure

from empikgo_mailer.domain.polish import month_locative
from empikgo_mailer.domain.report import MonthReport, place_name


def write_chart(report: MonthReport, path: Path, branch_names: dict[str, str]) -> None:
    """Codes given per day (bars) and in total (line) against the pool (dashed), per pool."""
    pools = [p for p in report.pools if p.loaded or p.given_total] or list(report.pools)
    # A bare Figure, not pyplot: no global state and no display backend on a server.
    figure = Figure(figsize=(10, 3.2 * len(pools)), layout="constrained")
    axes = figure.subplots(len(pools), 1, squeeze=False)
    figure.suptitle(f"Kody wydane w {month_locative(report.month)}")
    for axis, pool in zip(axes[:, 0], pools, strict=True):
        days = [day.day for day, _ in pool.given_per_day]
        daily = [given for _, given in pool.given_per_day]
        axis.bar(days, daily, color="#4c78a8", label="wydane danego dnia")
        axis.step(
            days,
            list(itertools.accumulate(daily)),
            where="mid",
            color="#f58518",
            label="wydane łącznie",
        )
        axis.axhline(pool.loaded, color="#54a24b", linestyle="--", label="pula")
        axis.set_title(f"{pool.platform.display_name} — {place_name(pool, branch_names)}")
        axis.set_xlabel("dzień miesiąca")
        axis.set_ylabel("kody")
        axis.set_xlim(0.5, len(report.month.days()) + 0.5)  # the whole month, drawn so far
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    figure.savefig(path)
