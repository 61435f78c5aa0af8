"""The month chart as inline SVG: codes given per day (bars), in total (a line) and the
pool (a dashed line). Drawn with presentation attributes and CSS classes only, so the
page's Content-Security-Policy (no inline style) holds, and it scales and prints."""

from __future__ import annotations

import itertools

from markupsafe import Markup, escape

from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.report import PoolReport

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 34


def pool_chart(pool: PoolReport, title: str, month: Month) -> Markup:
    """The whole month on the axis; bars and the total only for the days that have been."""
    days = [given for _, given in pool.given_per_day]
    month_days = len(month.days())
    totals = list(itertools.accumulate(days))
    top = max([pool.loaded, *totals, 1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / month_days

    def y(value: int) -> float:
        return TOP + plot_h * (1 - value / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
    ]
    for index, given in enumerate(days):
        if given:
            height = plot_h * given / top
            parts.append(
                f'<rect class="bar" x="{LEFT + index * step + step * 0.15:.1f}" '
                f'y="{TOP + plot_h - height:.1f}" width="{step * 0.7:.1f}" '
                f'height="{height:.1f}"><title>dzień {index + 1}: {given}</title></rect>'
            )
    points = " ".join(
        f"{LEFT + (i + 0.5) * step:.1f},{y(total):.1f}" for i, total in enumerate(totals)
    )
    if points:
        parts.append(f'<polyline class="total" points="{points}"/>')
    if pool.loaded:
        parts.append(
            f'<line class="pool" x1="{LEFT}" y1="{y(pool.loaded):.1f}" x2="{WIDTH - RIGHT}" '
            f'y2="{y(pool.loaded):.1f}"/>'
        )
    parts += (
        f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value}</text>'
        for value in sorted({0, top // 2, top})
    )
    parts += (
        f'<text x="{LEFT + (day - 0.5) * step:.1f}" y="{TOP + plot_h + 16}" '
        f'text-anchor="middle">{day}</text>'
        for day in range(1, month_days + 1)
        if day == 1 or day % 5 == 0
    )
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle">'
        "dzień miesiąca</text></svg>"
    )
    # Safe: every value written above is a number or passed through escape().
    return Markup("".join(parts))  # noqa: S704
