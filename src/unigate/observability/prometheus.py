"""The Prometheus text exposition format (version 0.0.4) of a metrics snapshot."""

from __future__ import annotations

import math

from unigate.observability.metrics import CATALOGUE, Labels, MetricDef, Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_INF_LE = 'le="+Inf"'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def _labels(names: tuple[str, ...], values: Labels, extra: str = "") -> str:
    parts = [f'{n}="{_escape(str(v))}"' for n, v in zip(names, values, strict=False)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def render(snap: Snapshot) -> bytes:
    lines: list[str] = []
    for m in CATALOGUE:
        # every family is described, with samples or not yet: dashboards and alerts can tell
        # "nothing happened" from "not exported"
        lines.append(f"# HELP {m.name} {m.help}")
        lines.append(f"# TYPE {m.name} {m.kind}")
        table = snap.get(m.kind + "s", {}).get(m.name)
        if not table:
            continue
        if m.kind == "histogram":
            _histogram(lines, m, table)
            continue
        for labels in sorted(table):
            lines.append(f"{m.name}{_labels(m.labels, labels)} {_number(table[labels])}")
    return ("\n".join(lines) + "\n").encode()


def _histogram(lines: list[str], m: MetricDef, table: dict[Labels, list[float]]) -> None:
    for labels in sorted(table):
        series = table[labels]
        running = 0.0
        for bound, count in zip(m.buckets, series, strict=False):
            running += count
            le = 'le="' + _number(bound) + '"'
            lines.append(f"{m.name}_bucket{_labels(m.labels, labels, le)} {_number(running)}")
        running += series[len(m.buckets)]
        lines.append(f"{m.name}_bucket{_labels(m.labels, labels, _INF_LE)} {_number(running)}")
        lines.append(f"{m.name}_sum{_labels(m.labels, labels)} {_number(series[-2])}")
        lines.append(f"{m.name}_count{_labels(m.labels, labels)} {_number(series[-1])}")
