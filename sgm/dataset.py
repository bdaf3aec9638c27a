"""`cli.py sgm`: add simulated sensor depth to every sample of a rendered dataset.

One output shard per input shard with the same shard index (`sensor-<index>.tar`), written
atomically through synth.shards.ShardWriter, so an interrupted run resumes by skipping the shards
already recorded in the output dataset. Every input shard is checked against its record while it
is read; a shard that fails is skipped (nothing derived from it is written) and reported at the end. The output dataset (kind 'sensor') records its config:
preset (name and every knob), backend and source dataset. One rendering can become several sensors
by running this once per preset into different output directories.
"""
from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import sgm
from sgm.filters import quantise
from sgm.inputs import ConstantImageError
from sgm.postprocess import apply_postprocess
from sgm.presets import SGMParams
from sgm.register import sensor_fields
from synth import schema
from synth.shards import (
    DatasetError,
    ShardError,
    ShardWriter,
    init_dataset,
    open_dataset,
    recorded_names,
    write_manifest,
)

OUTPUT_PREFIX = "sensor"
MIN_SEARCH = 16


def max_disparity_for(meta: Mapping[str, Any], params: SGMParams, width: int) -> int:
    """Disparity search range (px) for one sample: fx * b / z_min rounded up to a multiple of 16,
    capped by the preset's max_search_disparities and below the image width."""
    fx = float(np.asarray(meta["K_ir"], np.float64)[0, 0])
    baseline = float(meta["baseline_m"])
    if not (fx > 0 and baseline > 0):
        raise ValueError(f"meta has fx = {fx} px and baseline_m = {baseline}; both must be positive")
    width_cap = 16 * ((width - 1) // 16) if width > 16 else width - 1
    caps = [width_cap] + ([params.max_search_disparities] if params.max_search_disparities else [])
    if params.z_min_m is None:
        return max(2, min(caps))
    wanted = 16 * math.ceil(fx * baseline / params.z_min_m / 16)
    return max(min(MIN_SEARCH, width_cap), min([wanted] + caps))


def output_shard_name(input_name: str) -> str:
    """`sensor-000012.tar` for an input shard `<prefix>-000012.tar` (same index)."""
    match = re.search(r"-(\d+)\.tar$", input_name)
    if not match:
        return f"{OUTPUT_PREFIX}-{Path(input_name).stem}.tar"
    return f"{OUTPUT_PREFIX}-{match.group(1)}.tar"


def sensor_sample(sample: dict, params: SGMParams, backend: str, device: str) -> dict:
    """A copy of `sample` with sensor_disparity, sensor_depth_ir, sensor_depth and meta['sensor']."""
    meta = sample["meta"]
    left, right = sample["ir_left"], sample["ir_right"]
    rgb_hw = sample["rgb"].shape[:2] if "rgb" in sample else tuple(meta["rgb_size_hw"])
    D = max_disparity_for(meta, params, left.shape[1])
    try:
        disparity = sgm.match(left, right, max_disparity=D, preset=params, backend=backend, device=device)
        note = None
    except ConstantImageError as exc:  # a blank IR frame: the sensor sees nothing
        disparity = np.zeros(left.shape, np.float32)
        note = str(exc)
    if params.postprocess:  # the camera's / SDK's stages after matching (sgm/postprocess.py)
        disparity = apply_postprocess(disparity, params.postprocess, key=str(sample.get("__key__", "")))
        if params.subpixel_levels > 0:
            disparity = quantise(torch.from_numpy(disparity), params.subpixel_levels).numpy()
    out = {k: v for k, v in sample.items() if not k.startswith("__") or k == "__key__"}
    out.update(sensor_fields(disparity, meta, rgb_hw, params.z_min_m, params.z_max_m, params.depth_unit_m))
    out["meta"] = dict(meta, sensor={"preset": params.name, "backend": backend, "max_disparity": D,
                                     **({"note": note} if note else {})})
    return out


def dataset_config(params: SGMParams, backend: str, source: Path, source_manifest: dict) -> dict:
    """The output dataset's config (compared on resume)."""
    return {"stage": "sgm", "preset": params.name, "preset_params": dataclasses.asdict(params),
            "backend": backend, "source_dataset": str(Path(source).resolve()),
            "source_kind": source_manifest.get("kind", "raw")}


def run_sgm_dataset(in_dir: Path, out_dir: Path, preset: str, backend: str = "torch",
                    device: str = "cpu", progress: bool = True) -> dict[str, int]:
    """Write the sensor dataset; returns counts {'shards_done', 'shards_skipped', 'samples'}.

    Raises DatasetError (input or output dataset problems, naming shard and sample) or ValueError
    (bad preset/backend/device, naming it)."""
    params = sgm.load_preset(preset)
    if backend not in ("torch", "opencv"):
        raise ValueError(f"unknown SGM backend {backend!r}; use 'torch' or 'opencv'")
    if backend == "torch":
        from sgm.inputs import check_device
        check_device(device)
    source = open_dataset(in_dir)
    if Path(in_dir).resolve() == Path(out_dir).resolve():
        raise DatasetError(f"--out {out_dir} must differ from --in {in_dir}")
    if source.bad_records:
        raise DatasetError(f"--in {in_dir}: {source.bad_records[0]} (and {len(source.bad_records) - 1} more); "
                           f"run `cli.py verify --repair {in_dir}`")
    if not source.records:
        raise DatasetError(f"--in {in_dir} holds no finished shards")
    init_dataset(out_dir, "sensor", dataset_config(params, backend, in_dir, source.info))
    done = recorded_names(out_dir)
    todo = [s for s in source.records if output_shard_name(s["name"]) not in done]
    counts = {"shards_done": 0, "shards_skipped": len(source.records) - len(todo), "samples": 0}
    required = schema.RAW_FIELDS + schema.SENSOR_FIELDS
    total = sum(int(s["samples"]) for s in todo)
    failed: list[str] = []
    with tqdm(total=total, unit="sample", desc=f"sgm {params.name}", disable=not progress) as bar:
        for shard in todo:
            name = output_shard_name(shard["name"])
            bar.set_postfix_str(name)
            try:
                with ShardWriter(out_dir, name, required=required,
                                 extra={"source_shard": shard["name"], "source_sha256": shard["sha256"],
                                        "preset": params.name}) as writer:
                    for sample in source.iter_shard(shard["name"]):
                        try:
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore", UserWarning)  # colour IR notes
                                writer.add(sensor_sample(sample, params, backend, device))
                        except (ValueError, KeyError) as exc:
                            raise DatasetError(f"{shard['name']} [{sample.get('__key__')}]: {exc}") from None
                        counts["samples"] += 1
                        bar.update(1)
            except ShardError as exc:  # the input failed its checks: its output was dropped, go on
                failed.append(str(exc))
                bar.write(f"skipped {shard['name']}: {exc}")
                continue
            counts["shards_done"] += 1
    write_manifest(out_dir)
    if failed:
        raise DatasetError(f"{len(failed)} input shard(s) of {in_dir} failed their checks and got no output "
                           f"(first: {failed[0]}); the other shards were written; see `cli.py verify {in_dir}`")
    return counts
