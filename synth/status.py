"""Where a render job stands (``cli.py status``), from listings, not from reading every record.

Done units come from one listing of the records (:func:`synth.shards.recorded_names`), the units and
their sizes from ``plan.json``, running/failed units from one listing of ``DIR/units`` plus a read of
the state files of units that are not done. The rate comes from the modification times of the records
of at most :data:`RATE_WINDOW` of the most recent units (a bounded number of stats). At 312,686 units
this answers in seconds.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from synth import shards
from synth.leases import lease_is_live, list_states, read_state
from synth.plan import SHARD_PREFIX, read_plan

RATE_WINDOW = 200


@dataclass
class Status:
    units: int = 0
    done: int = 0
    running: int = 0
    failed: int = 0
    left: int = 0
    samples_planned: int = 0
    samples_written: int = 0
    samples_per_hour: float = 0.0
    eta_hours: float | None = None
    failures: list[tuple[str, int, str]] = field(default_factory=list)  # shard, attempts, reason
    urls: list[str] = field(default_factory=list)  # WebDataset brace patterns of the finished shards


def _done_indices(out: Path) -> tuple[set[int], set[str]]:
    if not (out / shards.DATASET).exists():
        return set(), set()
    names = shards.recorded_names(out)
    head, tail = SHARD_PREFIX + "-", ".tar"
    idx = {int(n[len(head):-len(tail)]) for n in names
           if n.startswith(head) and n.endswith(tail) and n[len(head):-len(tail)].isdigit()}
    return idx, names


def _rate(out: Path, recent: list[tuple[int, int]]) -> float:
    """Samples per hour over the records of ``recent`` (shard index, samples): mtime span."""
    if len(recent) < 2:
        return 0.0
    layout = shards.layout_of(shards.read_info(out))
    times = []
    for index, n in recent:
        try:
            times.append((layout.record_path(out, shards.shard_name(SHARD_PREFIX, index)).stat().st_mtime, n))
        except OSError:
            continue
    times.sort()
    if len(times) < 2 or times[-1][0] <= times[0][0]:
        return 0.0
    # the first record's samples were rendered before the measured span began
    return sum(n for _, n in times[1:]) / ((times[-1][0] - times[0][0]) / 3600.0)


def job_status(out: Path) -> Status:
    """Units done / running / failed / left, samples written, throughput and ETA of a render job."""
    out = Path(out)
    plan = read_plan(out)
    done, names = _done_indices(out)
    states = list_states(out)
    st = Status(units=plan["units"], samples_planned=plan["samples"])
    now = time.time()
    done_rows = []
    for row in plan["unit_table"]:
        index, view_count = row[0], row[3]
        if index in done:
            st.done += 1
            st.samples_written += view_count
            done_rows.append((index, view_count))
            continue
        path = states.get(index)
        state = read_state(path) if path is not None else None
        if lease_is_live(state, now):
            st.running += 1
        elif state and state.get("state") == "failed":
            st.failed += 1
            st.failures.append((shards.shard_name(SHARD_PREFIX, index), int(state.get("attempts", 1) or 1),
                                str(state.get("reason", "?"))))
        else:
            st.left += 1
    done_rows.sort()
    st.samples_per_hour = _rate(out, done_rows[-RATE_WINDOW:])
    if st.samples_per_hour > 0:
        st.eta_hours = (st.samples_planned - st.samples_written) / st.samples_per_hour
    if names:
        st.urls = shards.url_patterns(out, names, shards.layout_of(shards.read_info(out)))
    return st


def format_status(out: Path, st: Status) -> str:
    eta = "-" if st.eta_hours is None else (f"{st.eta_hours:.1f} h" if st.eta_hours >= 1
                                             else f"{st.eta_hours * 60:.0f} min")
    lines = [f"{out}",
             f"  units    {st.done:,} done, {st.running:,} running, {st.failed:,} failed, {st.left:,} left "
             f"(of {st.units:,})",
             f"  samples  {st.samples_written:,} of {st.samples_planned:,} "
             f"({100.0 * st.samples_written / max(st.samples_planned, 1):.1f}%)",
             f"  rate     {st.samples_per_hour:,.0f} samples/h, ETA {eta}"]
    for url in st.urls[:3]:
        lines.append(f"  shards   {url}")
    if len(st.urls) > 3:
        lines.append(f"  ... and {len(st.urls) - 3} more URL patterns (--json lists them all)")
    for shard, attempts, reason in st.failures[:20]:
        last = (reason.strip().splitlines() or ["?"])[-1][:300]
        lines.append(f"  FAILED   {shard} after {attempts} attempt(s): {last}")
    if len(st.failures) > 20:
        lines.append(f"  ... and {len(st.failures) - 20} more failed units")
    return "\n".join(lines)
