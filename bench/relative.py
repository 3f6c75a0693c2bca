#!/usr/bin/env python3
"""Each unigate target's cost relative to the bare relay measured in the same run: CPU per
request (the issue-9 targets), added first-token time and added median latency.
  python3 bench/relative.py RESULTS_DIR          # prints the table and appends it to summary.md
Reads RESULTS_DIR/raw.jsonl as the shared harness writes it (kept measurements, medians over reps)."""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

BASE = "relay"


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(results: list[dict]) -> list[str]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in results:
        if not r.get("discarded") and "rps" in r:
            groups[(r["mode"], r["kind"], r["conc"], r["target"])].append(r)
    targets = sorted({k[3] for k in groups if k[3].startswith("unigate")})
    workloads = sorted({k[:3] for k in groups}, key=lambda k: (k[0], k[1], k[2]))

    def m(key: tuple, field: str) -> float | None:
        return median([x.get(field) for x in groups.get(key, [])])

    out = [f"CPU per request relative to the {BASE} (medians; `added` = minus the direct target's value):", "",
           "| pin | workload | target | CPU ms/req | × relay | added p50 ms (relay) | added TTFT p50 ms (relay) |",
           "|---|---|---|---|---|---|---|"]
    for mode, kind, conc in workloads:
        base_cpu = m((mode, kind, conc, BASE), "gw_cpu_ms_per_req")
        direct_p50 = m((mode, kind, conc, "direct"), "p50_ms")
        direct_ttft = m((mode, kind, conc, "direct"), "ttft_p50_ms")

        def added(target: str, field: str, direct: float | None) -> str:
            v = m((mode, kind, conc, target), field)
            return "–" if v is None or direct is None else f"{v - direct:+.2f}"
        for t in targets:
            cpu = m((mode, kind, conc, t), "gw_cpu_ms_per_req")
            if cpu is None:
                continue
            ratio = f"{cpu / base_cpu:.2f}×" if base_cpu else "–"
            out.append(f"| {mode} | {kind} c={conc} | {t} | {cpu:.3f} | {ratio} | "
                       f"{added(t, 'p50_ms', direct_p50)} ({added(BASE, 'p50_ms', direct_p50)}) | "
                       f"{added(t, 'ttft_p50_ms', direct_ttft)} ({added(BASE, 'ttft_p50_ms', direct_ttft)}) |")
    return out


def main() -> None:
    folder = Path(sys.argv[1])
    results = [json.loads(line) for line in (folder / "raw.jsonl").read_text().splitlines() if line.strip()]
    lines = table(results)
    text = "\n".join(lines)
    print(text)
    summary = folder / "summary.md"
    if summary.exists():
        summary.write_text(summary.read_text() + "\n## Relative to the relay\n\n" + text + "\n")


if __name__ == "__main__":
    main()
