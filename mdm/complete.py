"""Depth completion of one RGB-D frame at any resolution: read, predict, write uint16 depth in the
input's units, a colourised preview and optionally a coloured point cloud (open3d PLY)."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from mdm.checkpoint import load_model
from mdm.evaluate import model_predict
from mdm.visualize import colorize, depth_range, rgb_to_bgr, sheet


class CompletionInputError(ValueError):
    """An input file that cannot be used; the message names it."""


def read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise CompletionInputError(f"cannot read RGB image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_depth(path: Path, scale: float) -> np.ndarray:
    """Single-channel depth image (uint16 or float) x ``scale`` -> (H, W) float32 metres, 0 = hole."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise CompletionInputError(f"cannot read depth image {path}")
    if raw.ndim != 2:
        raise CompletionInputError(f"depth image {path} has {raw.shape[2]} channels; expected one")
    if raw.dtype == np.uint8:
        raise CompletionInputError(f"depth image {path} is 8-bit; expected uint16 (or float) depth")
    depth = raw.astype(np.float32) * scale
    return np.where(np.isfinite(depth) & (depth > 0), depth, 0.0).astype(np.float32)


def read_intrinsics(path: Path) -> np.ndarray:
    """3x3 K, or four numbers fx fy cx cy, in pixels of the RGB image."""
    try:
        values = np.loadtxt(path, dtype=np.float64).ravel()
    except (OSError, ValueError) as exc:
        raise CompletionInputError(f"cannot read intrinsics {path} ({exc})") from None
    if values.size == 9:
        return values.reshape(3, 3)
    if values.size == 4:
        fx, fy, cx, cy = values
        return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    raise CompletionInputError(f"intrinsics {path} has {values.size} numbers; expected 9 (3x3 K) or 4 "
                               f"(fx fy cx cy)")


def _atomic_imwrite(path: Path, img: np.ndarray) -> None:
    ok, buf = cv2.imencode(path.suffix or ".png", img)
    if not ok:
        raise CompletionInputError(f"cannot encode {path} (unsupported extension?)")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


def write_point_cloud(path: Path, depth: np.ndarray, rgb: np.ndarray, K: np.ndarray) -> int:
    """Back-project depth (metres, RGB camera, OpenCV axes) to a coloured PLY; returns point count."""
    import open3d as o3d

    h, w = depth.shape
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    ok = np.isfinite(depth) & (depth > 0)
    z = depth[ok]
    x = (u[ok] - K[0, 2]) * z / K[0, 0]
    y = (v[ok] - K[1, 2]) * z / K[1, 1]
    cloud = o3d.geometry.PointCloud()
    cloud.points = o3d.utility.Vector3dVector(np.stack([x, y, z], 1).astype(np.float64))
    cloud.colors = o3d.utility.Vector3dVector(rgb[ok].astype(np.float64) / 255.0)
    tmp = path.with_name(f".{path.stem}.tmp.ply")
    if not o3d.io.write_point_cloud(str(tmp), cloud):
        raise CompletionInputError(f"open3d could not write {path}")
    os.replace(tmp, path)
    return int(z.size)


def complete_frame(ckpt: Path, rgb_path: Path, depth_path: Path, depth_scale: float, out: Path, *,
                   intrinsics: Path | None = None, ply: Path | None = None, device: str = "cpu",
                   tokens: int | None = None) -> dict:
    """Complete one frame. Writes ``out`` (uint16, same units as the input depth), ``<out>_preview.png``
    and, with intrinsics, a PLY (``ply`` or ``out`` with suffix .ply). Returns paths and stats."""
    if depth_scale <= 0:
        raise CompletionInputError(f"--depth-scale must be > 0, got {depth_scale}")
    if ply is not None and intrinsics is None:
        raise CompletionInputError("--ply needs --intrinsics (K of the RGB camera)")
    rgb = read_rgb(rgb_path)
    depth = read_depth(depth_path, depth_scale)
    if rgb.shape[:2] != depth.shape:
        raise CompletionInputError(f"RGB {rgb_path} is {rgb.shape[1]}x{rgb.shape[0]} px but depth "
                                   f"{depth_path} is {depth.shape[1]}x{depth.shape[0]} px; they must match")
    K = read_intrinsics(intrinsics) if intrinsics else None
    model = load_model(ckpt, device)
    pred = model_predict(model, rgb, depth, device, tokens)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _atomic_imwrite(out, np.clip(np.round(pred / depth_scale), 0, 65535).astype(np.uint16))
    lo, hi = depth_range(depth, pred)
    preview = out.with_name(out.stem + "_preview.png")
    _atomic_imwrite(preview, sheet([(rgb_to_bgr(rgb), "RGB"), (colorize(depth, lo, hi), f"input ({lo:.2f}-{hi:.2f} m)"),
                                    (colorize(pred, lo, hi), "completed")], 3))
    result = {"out": str(out), "preview": str(preview), "holes_filled": int((depth <= 0).sum()),
              "median_depth_m": float(np.median(pred))}
    if K is not None:
        ply_path = Path(ply) if ply else out.with_suffix(".ply")
        result["ply"] = str(ply_path)
        result["points"] = write_point_cloud(ply_path, pred, rgb, K)
    return result
