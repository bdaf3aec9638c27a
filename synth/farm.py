"""Render-farm layer, kept as one import for scripts: it re-exports the plan (:mod:`synth.plan`),
leases (:mod:`synth.leases`), status (:mod:`synth.status`) and the executors' entry points
(:mod:`synth.render`). Nothing in the package imports this module (no cycle)."""
from __future__ import annotations

from synth.executors.ray import RayUnavailableError, check_address, run_bounded
from synth.leases import (
    UNITS,
    Heartbeat,
    clear_state,
    lease_is_live,
    lease_timeout_s,
    live_leases,
    mark_failed,
    read_state,
    remove_dead_leftovers,
    take_lease,
    unit_state_path,
)
from synth.plan import (
    PLAN,
    PlanFileError,
    PlanMismatchError,
    bytes_per_sample,
    dry_run_text,
    human_bytes,
    plan_args,
    plan_document,
    read_plan,
    slice_units,
    write_plan,
)
from synth.render import DiskSpaceError, calibrate, check_disk_space, run_render, run_render_ray
from synth.status import Status, format_status, job_status

__all__ = ["PLAN", "UNITS", "DiskSpaceError", "Heartbeat", "PlanFileError", "PlanMismatchError", "RayUnavailableError",
           "Status", "bytes_per_sample", "calibrate", "check_address", "check_disk_space", "clear_state",
           "dry_run_text", "format_status", "human_bytes", "job_status", "lease_is_live", "lease_timeout_s",
           "live_leases", "mark_failed", "plan_args", "plan_document", "read_plan", "read_state",
           "remove_dead_leftovers", "run_bounded", "run_render", "run_render_ray", "slice_units", "take_lease",
           "unit_state_path", "write_plan"]
