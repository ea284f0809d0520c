"""Geometry of the console's server-rendered SVG: anomalies per kind per day as stacked
bars, and role-holding intervals as a timeline. Numbers only; templates draw them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from projections.forensics.role_history import RoleInterval
from projections.model.anomalies import Anomaly
from projections.model.credential import CredentialStatus
from projections.queries.anomaly_counts import DayCount

CHART_WIDTH = 960
PLOT_LEFT = 56
PLOT_TOP = 16
PLOT_HEIGHT = 220
AXIS_HEIGHT = 40
KIND_INDEX = {kind: index for index, kind in enumerate(Anomaly)}


@dataclass(frozen=True, slots=True)
class Segment:
    kind: Anomaly
    count: int
    y: float
    height: float
    css: str


@dataclass(frozen=True, slots=True)
class Bar:
    day: date
    x: float
    width: float
    total: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True, slots=True)
class AnomalyChart:
    width: int
    height: int
    plot_left: int
    plot_top: int
    plot_height: int
    plot_bottom: int
    bars: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    kinds: tuple[tuple[Anomaly, str], ...]
    total: int


def kind_css(kind: Anomaly) -> str:
    return f"kind-{KIND_INDEX[kind]}"


def anomaly_chart(counts: Sequence[DayCount], first: date, last: date) -> AnomalyChart:
    """Stacked bars from ``first`` to ``last`` (inclusive), one per UTC day."""
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    per_day: dict[date, dict[Anomaly, int]] = defaultdict(dict)
    for count in counts:
        per_day[count.day][count.kind] = per_day[count.day].get(count.kind, 0) + count.count
    highest = max((sum(kinds.values()) for kinds in per_day.values()), default=0)
    scale = PLOT_HEIGHT / highest if highest else 0.0
    plot_width = CHART_WIDTH - PLOT_LEFT - 8
    step = plot_width / max(1, len(days))
    bottom = PLOT_TOP + PLOT_HEIGHT
    bars = []
    for index, day in enumerate(days):
        y = float(bottom)
        segments = []
        for kind in sorted(per_day.get(day, {}), key=KIND_INDEX.__getitem__):
            flagged = per_day[day][kind]
            height = flagged * scale
            y -= height
            segments.append(Segment(kind, flagged, round(y, 2), round(height, 2), kind_css(kind)))
        bars.append(Bar(day, round(PLOT_LEFT + index * step + step * 0.1, 2),
                        round(max(1.0, step * 0.8), 2), sum(per_day.get(day, {}).values()),
                        tuple(segments)))
    every = max(1, len(days) // 10)
    x_ticks = tuple(
        Tick(round(bar.x + bar.width / 2, 2), bar.day.strftime("%m-%d"))
        for index, bar in enumerate(bars) if index % every == 0
    )
    y_ticks = tuple(
        Tick(round(bottom - value * scale, 2), f"{value:,}")
        for value in sorted({0, highest // 2, highest}) if highest or value == 0
    )
    shown = sorted({count.kind for count in counts}, key=KIND_INDEX.__getitem__)
    return AnomalyChart(
        CHART_WIDTH, PLOT_TOP + PLOT_HEIGHT + AXIS_HEIGHT, PLOT_LEFT, PLOT_TOP, PLOT_HEIGHT,
        bottom, tuple(bars), x_ticks, y_ticks, tuple((kind, kind_css(kind)) for kind in shown),
        sum(count.count for count in counts),
    )


LANE_HEIGHT = 26
LABEL_WIDTH = 230
TIMELINE_TOP = 8


@dataclass(frozen=True, slots=True)
class Span:
    x: float
    width: float
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Lane:
    credential_id: str
    user_id: str
    y: float
    spans: tuple[Span, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class RoleTimeline:
    width: int
    height: int
    label_width: int
    lane_height: int
    start: datetime
    end: datetime
    lanes: tuple[Lane, ...]
    ticks: tuple[Tick, ...]


def _text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def role_timeline(
    intervals: Sequence[RoleInterval], start: datetime, end: datetime
) -> RoleTimeline:
    """One lane per credential; a span per stretch held (``held``), expired stretches
    (``expired``) drawn over it, still-held intervals reaching ``end`` (``open``)."""
    if end <= start:
        end = start + timedelta(hours=1)
    plot_width = CHART_WIDTH - LABEL_WIDTH - 12
    seconds = (end - start).total_seconds()

    def x_of(instant: datetime) -> float:
        clamped = min(max(instant, start), end)
        return round(LABEL_WIDTH + (clamped - start).total_seconds() / seconds * plot_width, 2)

    lanes: dict[str, list[Span]] = defaultdict(list)
    owners: dict[str, str] = {}
    for interval in intervals:
        owners[interval.credential_id] = interval.user_id
        until = interval.held_until or end
        ended = "still held" if interval.held_until is None else f"until {_text(until)}"
        title = (f"{interval.credential_id}: held from {_text(interval.held_from)} {ended} "
                 f"(granted by {interval.granted_by.value})")
        css = "held open" if interval.held_until is None else "held"
        left, right = x_of(interval.held_from), x_of(until)
        lanes[interval.credential_id].append(Span(left, max(2.0, right - left), css, title))
        changes = list(interval.status_changes)
        for index, change in enumerate(changes):
            if change.status is CredentialStatus.ACTIVE:
                continue
            stop = changes[index + 1].at if index + 1 < len(changes) else until
            from_x, to_x = x_of(change.at), x_of(stop)
            lanes[interval.credential_id].append(Span(
                from_x, max(2.0, to_x - from_x), "expired",
                f"{interval.credential_id}: {change.status.value} from {_text(change.at)}",
            ))
    built = tuple(
        Lane(credential_id, owners[credential_id], TIMELINE_TOP + index * LANE_HEIGHT,
             tuple(spans))
        for index, (credential_id, spans) in enumerate(sorted(lanes.items()))
    )
    pattern = "%Y-%m-%d" if end - start > timedelta(days=4) else "%m-%d %H:%M"
    anchors = ("start", "middle", "middle", "middle", "end")
    ticks = tuple(
        Tick(x_of(start + (end - start) * fraction / 4),
             (start + (end - start) * fraction / 4).astimezone(UTC).strftime(pattern),
             anchors[fraction])
        for fraction in range(5)
    )
    height = TIMELINE_TOP + len(built) * LANE_HEIGHT + AXIS_HEIGHT
    return RoleTimeline(CHART_WIDTH, height, LABEL_WIDTH, LANE_HEIGHT, start, end, built, ticks)
