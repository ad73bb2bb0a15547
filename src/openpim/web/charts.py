"""Chart data for the vendored Chart.js (static/chart.umd.min.js), drawn by static/app.js.

Pages embed the data as a JSON island (<script type="application/json">, never executed) next
to a table of the same numbers, which is what screen readers and people without JS get.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from openpim.summaries.service import DayCount

# Colour-blind-safe palette (Okabe-Ito), darkest first for contrast on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7A6A00", "#444444")
MAX_SERIES = len(PALETTE) - 1


@dataclass(frozen=True)
class DayChart:
    title: str
    days: list[date]
    series: list[tuple[str, list[int]]]

    @property
    def total(self) -> int:
        return sum(sum(values) for _, values in self.series)

    def config(self) -> dict[str, Any]:
        return {
            "type": "bar",
            "title": self.title,
            "labels": [d.isoformat() for d in self.days],
            "datasets": [
                {"label": name, "data": values, "backgroundColor": PALETTE[i % len(PALETTE)]}
                for i, (name, values) in enumerate(self.series)
            ],
        }


def per_day(title: str, counts: list[DayCount], first: date, last: date) -> DayChart:
    """One series per role (the busiest ones, the rest as "Other roles"), one bar per day."""
    span = (last - first).days + 1
    days = [first + timedelta(days=i) for i in range(max(span, 1))]
    index = {d: i for i, d in enumerate(days)}
    per_role: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for c in counts:
        if c.day in index:
            per_role[c.role][index[c.day]] += c.count
    ranked = sorted(per_role.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    series = ranked[:MAX_SERIES]
    rest = ranked[MAX_SERIES:]
    if rest:
        other = [sum(values[i] for _, values in rest) for i in range(len(days))]
        series.append(("Other roles", other))
    return DayChart(title=title, days=days, series=series)
