"""Click commands `cli.py sgm` (a whole dataset) and `cli.py sgm-pair` (one image pair)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from lbd.errors import OutputError, UsageError, check_writable_file
from lbd.files import write_outputs

# Sleeping (not spinning) OpenMP workers: torch's intra-op threads otherwise spin-wait at every one of
# SGM's ~10^4 small ops and collapse (10x slower) when other processes share the cores, e.g. renders.
# Takes effect only if torch is not imported yet (true for `cli.py sgm` / `sgm-pair`).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

THREADS_HELP = "Torch CPU threads (default: torch's default, one per core)."

PRESET_HELP = "Sensor preset from sgm/presets.json: generic, d435 or d415."


@click.command()
@click.option("--in", "in_dir", type=click.Path(path_type=Path), required=True,
              help="Rendered (raw) dataset directory to read.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Output dataset directory (kind 'sensor'); rerun to resume.")
@click.option("--preset", default="d435", show_default=True, help=PRESET_HELP)
@click.option("--backend", type=click.Choice(["torch", "opencv"]), default="torch", show_default=True,
              help="Matcher: census SGM in torch, or OpenCV StereoSGBM (reference).")
@click.option("--device", default="cpu", show_default=True, help="Torch device: cpu or cuda.")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help=THREADS_HELP)
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: when stderr is a terminal).")
def sgm(in_dir: Path, out_dir: Path, preset: str, backend: str, device: str, threads: int | None,
        progress: bool | None) -> None:
    """Add simulated sensor depth to every sample of a rendered dataset.

    Runs SGM on each sample's IR pair (search range fx * baseline / z_min of the preset) and writes
    sensor_disparity (px, left IR), sensor_depth_ir (uint16 mm, left IR) and sensor_depth (uint16
    mm, registered into the RGB camera at RGB resolution), 0 = hole, into a new dataset with one
    shard per input shard. Shards already in the output manifest are skipped (resume).
    """
    from lbd.errors import UserError
    from sgm.dataset import run_sgm_dataset

    show = sys.stderr.isatty() if progress is None else progress
    if backend == "torch":
        _check_device(device)
    _set_threads(threads)
    try:
        counts = run_sgm_dataset(in_dir, out_dir, preset, backend, device, progress=show)
    except UserError:
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    click.echo(f"{out_dir}: {counts['shards_done']} shard(s) written ({counts['samples']} samples), "
               f"{counts['shards_skipped']} already done")


def _check_device(device: str) -> None:
    """A UsageError naming --device when torch cannot use it (e.g. cuda on a CPU-only torch)."""
    import torch

    from sgm.inputs import check_device
    try:
        torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise UsageError(f"--device {device}: not a torch device (use cpu, cuda or cuda:N)") from None
    try:
        check_device(device)
    except ValueError as exc:
        raise UsageError(f"--device {device}: {exc}") from None


def _set_threads(threads: int | None) -> None:
    """torch (and OpenCV) CPU threads, when given."""
    if threads is None:
        return
    import cv2
    import torch
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def _read_image(path: Path, name: str):
    """Grey uint8/uint16 image from a file; colour is converted with a note on stderr."""
    import cv2
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise click.BadParameter(f"cannot read {path} as an image", param_hint=name)
    if image.ndim == 3:
        click.echo(f"note: {name} {path} is a colour image; converted to grey", err=True)
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        image = cv2.cvtColor(image, code)
    return image


@click.command("sgm-pair")
@click.argument("left", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("right", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--max-disparity", type=click.IntRange(min=2), required=True,
              help="Number of disparities searched, 0 .. N-1 px (must be below the image width).")
@click.option("--preset", default="generic", show_default=True, help=PRESET_HELP)
@click.option("--backend", type=click.Choice(["torch", "opencv"]), default="torch", show_default=True,
              help="Matcher: census SGM in torch, or OpenCV StereoSGBM (reference).")
@click.option("--device", default="cpu", show_default=True, help="Torch device: cpu or cuda.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Disparity of LEFT as float32 .npy (px, 0 = hole).")
@click.option("--fx", type=float, default=None, help="Focal length of the left camera (px), for --depth-out.")
@click.option("--baseline", type=float, default=None, help="Stereo baseline (m), for --depth-out.")
@click.option("--depth-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write depth z = fx * baseline / d as a uint16 PNG in mm (0 = hole).")
@click.option("--preview", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a colourised disparity PNG (holes black).")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help=THREADS_HELP)
def sgm_pair(left: Path, right: Path, max_disparity: int, preset: str, backend: str, device: str,
             out_path: Path, fx: float | None, baseline: float | None, depth_out: Path | None,
             preview: Path | None, threads: int | None) -> None:
    """SGM on one rectified LEFT/RIGHT image pair (left(x) matches right(x - d))."""
    import io

    import numpy as np

    import sgm as sgm_pkg
    from lbd.errors import UserError
    from sgm.register import depth_to_units, disparity_to_depth

    if depth_out is not None and (fx is None or baseline is None):
        raise UsageError("--depth-out needs --fx (px) and --baseline (m)")
    if (fx is not None and not fx > 0) or (baseline is not None and not baseline > 0):
        raise UsageError("--fx and --baseline must be positive")
    try:
        params = sgm_pkg.load_preset(preset)
    except ValueError as exc:
        raise UsageError(f"--preset {preset}: {exc}") from None
    if backend == "torch":
        _check_device(device)
    outputs = [(out_path, "--out")] + [(p, o) for p, o in ((depth_out, "--depth-out"), (preview, "--preview")) if p]
    names = [p.resolve() for p, _ in outputs]
    if len(set(names)) < len(names):
        raise UsageError("--out, --depth-out and --preview must be different files")
    for path, option in outputs:  # before the (possibly long) match
        check_writable_file(path, option)
    _set_threads(threads)
    left_img, right_img = _read_image(left, "LEFT"), _read_image(right, "RIGHT")
    try:
        disp = sgm_pkg.match(left_img, right_img, max_disparity=max_disparity, preset=params,
                             backend=backend, device=device)
    except UserError:
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    buf = io.BytesIO()
    np.save(buf, disp)
    files = [(out_path, "--out", buf.getvalue())]
    lines = [f"wrote {out_path}: {disp.shape[1]}x{disp.shape[0]} disparity, "
             f"{100.0 * float((disp > 0).mean()):.1f} % valid"]
    import cv2
    if depth_out is not None:
        depth = disparity_to_depth(disp, fx, baseline, params.z_min_m, params.z_max_m)
        files.append((depth_out, "--depth-out", _png(depth_out, depth_to_units(depth, params.depth_unit_m))))
        lines.append(f"wrote {depth_out} (uint16, {params.depth_unit_m * 1000:g} mm units)")
    if preview is not None:
        scale = 255.0 / max(float(disp.max()), 1e-6)
        colour = cv2.applyColorMap(np.clip(disp * scale, 0, 255).astype(np.uint8), cv2.COLORMAP_TURBO)
        colour[disp <= 0] = 0
        files.append((preview, "--preview", _png(preview, colour)))
        lines.append(f"wrote {preview}")
    write_outputs(files)
    for line in lines:
        click.echo(line)


def _png(path: Path, image) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise OutputError(f"cannot encode {path} as PNG")
    return buf.tobytes()


