"""Depth completion of one RGB-D frame at any resolution: read, predict, write depth in explicit units, a
colourised preview and optionally a coloured point cloud (binary PLY).

Units. Integer depth (uint16 PNG/TIFF, integer .npy) is ``value x --depth-scale`` metres (default 0.001,
millimetres); float depth (float32 TIFF/EXR/.npy) is metres and takes no scale. 8-bit depth is refused.
The output keeps the input's units: a ``.png`` is uint16 in the input's units (millimetres for float
input), ``.tif``/``.tiff``/``.npy`` have the input's kind (integer units, or float32 metres), ``.exr``
is float32 metres.

What changes. By default (fill) only holes (0, NaN, negative) get the model's prediction; every measured
pixel keeps its stored value. ``--refine`` also replaces measured pixels inside the model's depth range
(``MDMConfig.min_depth``-``max_depth``, 0.05-20 m); measured pixels outside that range always pass
through unchanged. :func:`compose` is that rule, shared with ``eval`` (so its ``model_fill`` /
``model`` rows are what ``complete`` / ``complete --refine`` write).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # read/write float EXR depth (only if cv2 is not loaded yet)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from lbd.errors import OutputError, UsageError, UserError, check_writable_file  # noqa: E402
from lbd.files import write_outputs  # noqa: E402
from mdm.checkpoint import load_model  # noqa: E402
from mdm.visualize import colorize, depth_range, rgb_to_bgr, sheet  # noqa: E402

MIN_VALID_FRACTION = 0.01  # below this share of measured pixels the input is refused (--allow-sparse)
FLOAT_MM_SUSPECT_M = 200.0  # float depth whose median exceeds this is probably not metres
OUT_SUFFIXES = (".png", ".tif", ".tiff", ".npy", ".exr")
UINT16_MAX = 65535


class CompletionInputError(UserError, ValueError):
    """An input file that cannot be used; the message names it."""


@dataclass
class DepthInput:
    """A depth image as read: ``metres`` (H, W) float32 with 0 = hole, and how it was stored."""

    path: Path
    raw: np.ndarray  # as stored (holes may be 0, NaN, negative)
    metres: np.ndarray
    scale: float | None  # metres per unit for integer depth; None for float depth (metres)

    @property
    def units(self) -> str:
        if self.scale is None:
            return f"{self.raw.dtype} metres"
        return f"{self.raw.dtype}, {self.scale:g} m per unit"


def read_rgb(path: Path) -> np.ndarray:
    if not Path(path).is_file():
        raise CompletionInputError(f"RGB image {path} does not exist")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise CompletionInputError(f"cannot read RGB image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _load_depth_array(path: Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise CompletionInputError(f"depth image {path} does not exist")
    if path.suffix.lower() == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise CompletionInputError(f"cannot read depth array {path} ({exc})") from None
    try:
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        why = "OpenCV's EXR codec is disabled; use a float32 TIFF or .npy" if "EXR" in str(exc) else "OpenCV error"
        raise CompletionInputError(f"cannot read depth image {path} ({why})") from None
    if raw is None:
        raise CompletionInputError(f"cannot read depth image {path}")
    return raw


def read_depth(path: Path, scale: float | None = None) -> DepthInput:
    """Single-channel depth -> :class:`DepthInput`. Integer depth x ``scale`` (default 0.001) metres; float
    depth is metres (an explicit ``scale`` other than 1 is refused). 8-bit depth is refused."""
    raw = _load_depth_array(path)
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[:, :, 0]
    if raw.ndim != 2:
        shape = f"{raw.shape[2]} channels" if raw.ndim == 3 else f"shape {raw.shape}"
        raise CompletionInputError(f"depth image {path} has {shape}; expected one channel")
    if raw.dtype in (np.uint8, np.int8, np.bool_):
        raise CompletionInputError(f"depth image {path} is 8-bit; 256 levels cannot hold depth: expected "
                                   f"uint16 (x --depth-scale metres) or float32 metres")
    if raw.dtype.kind == "f":
        if scale is not None and scale != 1.0:
            raise UsageError(f"--depth-scale {scale:g}: {path} holds {raw.dtype} depth, which is read as "
                             f"metres; --depth-scale applies to integer depth only (convert the file to "
                             f"metres, or to uint16 units)")
        metres = raw.astype(np.float32)
        used = None
    elif raw.dtype.kind in "iu":
        used = 0.001 if scale is None else float(scale)
        metres = raw.astype(np.float64) * used
    else:
        raise CompletionInputError(f"depth image {path} has dtype {raw.dtype}; expected uint16 or float32")
    metres = np.where(np.isfinite(metres) & (metres > 0), metres, 0.0).astype(np.float32)
    if used is None and (metres > 0).any():
        median = float(np.median(metres[metres > 0]))
        if median > FLOAT_MM_SUSPECT_M:
            raise CompletionInputError(f"depth image {path} is float depth, read as metres, but its median is "
                                       f"{median:g} m: millimetres? Convert it to metres (or to uint16 mm)")
    return DepthInput(Path(path), raw, metres, used)


def read_intrinsics(path: Path) -> np.ndarray:
    """3x3 K, or four numbers fx fy cx cy, in pixels of the RGB image."""
    try:
        values = np.loadtxt(path, dtype=np.float64).ravel()
    except (OSError, ValueError) as exc:
        raise CompletionInputError(f"cannot read intrinsics {path} ({exc})") from None
    if values.size == 9:
        K = values.reshape(3, 3)
    elif values.size == 4:
        fx, fy, cx, cy = values
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    else:
        raise CompletionInputError(f"intrinsics {path} has {values.size} numbers; expected 9 (3x3 K) or 4 "
                                   f"(fx fy cx cy)")
    if not (np.isfinite(K).all() and K[0, 0] > 0 and K[1, 1] > 0):
        raise CompletionInputError(f"intrinsics {path}: fx and fy must be positive finite numbers")
    return K


def compose(depth: np.ndarray, pred: np.ndarray, refine: bool, min_depth: float, max_depth: float
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """What ``complete`` outputs (metres): holes (depth <= 0) get ``pred``; with ``refine`` measured
    pixels inside [min_depth, max_depth] do too; every other measured pixel keeps its value. Returns
    (depth, masks {"holes", "refined", "out_of_range"})."""
    measured = np.isfinite(depth) & (depth > 0)
    in_range = measured & (depth >= min_depth) & (depth <= max_depth)
    refined = in_range if refine else np.zeros_like(measured)
    out = np.where(~measured | refined, pred, depth).astype(np.float32)
    return out, {"holes": ~measured, "refined": refined, "out_of_range": measured & ~in_range}


# ---------------------------------------------------------------- output


def output_kind(out: Path, depth: DepthInput) -> tuple[str, float | None]:
    """("uint16", metres per unit) or ("float32", None) of the file ``out`` for this input."""
    suffix = out.suffix.lower()
    if suffix == ".png":
        return "uint16", depth.scale if depth.scale is not None else 0.001
    if suffix == ".exr" or depth.scale is None:
        return "float32", None
    return "uint16", depth.scale


def check_output_name(out: Path) -> None:
    """Refuse an --out whose extension we cannot write (before any work)."""
    suffix = Path(out).suffix.lower()
    if Path(out).is_dir():
        raise UsageError(f"--out {out}: is a directory, expected a file name ({', '.join(OUT_SUFFIXES)})")
    if suffix not in OUT_SUFFIXES:
        raise UsageError(f"--out {out}: unsupported extension {suffix or '(none)'!r}; use "
                         f"{', '.join(OUT_SUFFIXES)}")
    if suffix == ".exr":
        try:
            ok = cv2.imencode(".exr", np.zeros((1, 1), np.float32))[0]
        except cv2.error:
            ok = False
        if not ok:
            raise UsageError(f"--out {out}: this OpenCV cannot write EXR; use .tif or .npy for float metres")


def encode_depth(out: Path, metres: np.ndarray, kind: str, scale: float | None,
                 keep: np.ndarray | None = None, keep_raw: np.ndarray | None = None
                 ) -> tuple[bytes, int, np.ndarray]:
    """File bytes of ``metres`` as ``kind`` for ``out``'s extension, the number of pixels that had to be
    clipped to the uint16 range, and the depth as written, in metres. ``keep``/``keep_raw``: pixels
    stored exactly as given (measured integer input, never re-quantised)."""
    clipped = 0
    if kind == "uint16":
        units = np.round(metres.astype(np.float64) / scale)
        if keep is not None:
            units = np.where(keep, keep_raw.astype(np.float64), units)
        filled = metres > 0
        units = np.where(filled, np.maximum(units, 1), 0)  # a filled pixel never becomes a hole
        clipped = int((units > UINT16_MAX).sum())
        img = np.minimum(units, UINT16_MAX).astype(np.uint16)
        written = (img * scale).astype(np.float32)
    else:
        img = written = metres.astype(np.float32)
    suffix = out.suffix.lower()
    if suffix == ".npy":
        import io
        buf = io.BytesIO()
        np.save(buf, img)
        return buf.getvalue(), clipped, written
    ok, buf = cv2.imencode(suffix, img)
    if not ok:
        raise OutputError(f"--out {out}: OpenCV cannot encode {img.dtype} as {suffix}")
    return buf.tobytes(), clipped, written


def point_cloud_bytes(depth: np.ndarray, rgb: np.ndarray, K: np.ndarray) -> tuple[bytes, int]:
    """Coloured binary PLY (float x y z, uchar red green blue) of depth (metres, RGB camera, OpenCV
    axes), as bytes; and the point count."""
    h, w = depth.shape
    v, u = np.nonzero(np.isfinite(depth) & (depth > 0))
    z = depth[v, u].astype(np.float64)
    verts = np.empty(z.size, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                    ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    verts["x"] = (u - K[0, 2]) * z / K[0, 0]
    verts["y"] = (v - K[1, 2]) * z / K[1, 1]
    verts["z"] = z
    for i, name in enumerate(("red", "green", "blue")):
        verts[name] = rgb[v, u, i]
    header = (f"ply\nformat binary_little_endian 1.0\nelement vertex {z.size}\n"
              + "".join(f"property float {c}\n" for c in "xyz")
              + "".join(f"property uchar {c}\n" for c in ("red", "green", "blue")) + "end_header\n")
    return header.encode() + verts.tobytes(), int(z.size)


def write_point_cloud(path: Path, depth: np.ndarray, rgb: np.ndarray, K: np.ndarray) -> int:
    """Back-project depth to a coloured PLY at ``path`` (atomically); returns the point count."""
    data, n = point_cloud_bytes(depth, rgb, K)
    write_outputs([(Path(path), "--ply", data)])
    return n


# ---------------------------------------------------------------- the command


def complete_frame(ckpt: Path, rgb_path: Path, depth_path: Path, depth_scale: float | None, out: Path, *,
                   intrinsics: Path | None = None, ply: Path | None = None, device: str = "cpu",
                   tokens: int | None = None, refine: bool = False, allow_sparse: bool = False,
                   notes: list[str] | None = None) -> dict:
    """Complete one frame (see the module docstring for units and what changes). Writes ``out``,
    ``<out>_preview.png`` and, with intrinsics, a PLY (``ply`` or ``out`` with suffix .ply). Every output
    is checked writable before the model runs and written all-or-nothing. Returns paths and counts."""
    out = Path(out)
    if depth_scale is not None and not depth_scale > 0:
        raise UsageError(f"--depth-scale must be > 0, got {depth_scale}")
    if ply is not None and intrinsics is None:
        raise UsageError("--ply needs --intrinsics (K of the RGB camera)")
    check_output_name(out)
    ply_path = (Path(ply) if ply else out.with_suffix(".ply")) if intrinsics else None
    if ply_path is not None and ply_path.suffix.lower() != ".ply":
        raise UsageError(f"--ply {ply_path}: expected a .ply file name")
    new_dirs = [d for d in dict.fromkeys(p.parent for p in (out, ply_path) if p is not None) if not d.exists()]
    check_writable_file(out, "--out")
    if ply_path is not None:
        check_writable_file(ply_path, "--ply")
    try:
        return _complete(ckpt, rgb_path, depth_path, depth_scale, out, ply_path, intrinsics=intrinsics,
                         device=device, tokens=tokens, refine=refine, allow_sparse=allow_sparse, notes=notes)
    except BaseException:
        for d in new_dirs:  # a failed run leaves no trace: folders made by the check go if still empty
            try:
                d.rmdir()
            except OSError:
                pass
        raise


def _complete(ckpt: Path, rgb_path: Path, depth_path: Path, depth_scale: float | None, out: Path,
              ply_path: Path | None, *, intrinsics: Path | None, device: str, tokens: int | None, refine: bool,
              allow_sparse: bool, notes: list[str] | None) -> dict:
    preview = out.with_name(out.stem + "_preview.png")
    rgb = read_rgb(rgb_path)
    depth = read_depth(depth_path, depth_scale)
    if depth.scale is None and depth_scale is not None and notes is not None:
        notes.append(f"{depth_path} holds float depth, read as metres (--depth-scale 1 ignored)")
    h, w = depth.metres.shape
    if rgb.shape[:2] != (h, w):
        raise CompletionInputError(f"RGB {rgb_path} is {rgb.shape[1]}x{rgb.shape[0]} px but depth "
                                   f"{depth_path} is {w}x{h} px; they must match")
    measured = depth.metres > 0
    fraction = float(measured.mean())
    if not measured.any():
        raise CompletionInputError(f"depth image {depth_path} has no valid depth (every pixel is 0/NaN); "
                                   f"nothing to complete from (check the file and --depth-scale)")
    if fraction < MIN_VALID_FRACTION and not allow_sparse:
        raise CompletionInputError(f"depth image {depth_path} has valid depth in only {100 * fraction:.2g} % "
                                   f"of its pixels (< {100 * MIN_VALID_FRACTION:g} %); the completion would be "
                                   f"a guess. Pass --allow-sparse to complete it anyway")
    K = read_intrinsics(intrinsics) if intrinsics else None

    from mdm.evaluate import model_predict

    model = load_model(ckpt, device)
    lo_m, hi_m = float(model.cfg.min_depth), float(model.cfg.max_depth)
    pred = model_predict(model, rgb, depth.metres, device, tokens)
    result_m, masks = compose(depth.metres, pred, refine, lo_m, hi_m)

    kind, out_scale = output_kind(out, depth)
    keep = ~(masks["holes"] | masks["refined"])
    exact = kind == "uint16" and depth.scale is not None and out_scale == depth.scale
    if kind == "uint16":
        over = keep & (np.round(result_m.astype(np.float64) / out_scale) > UINT16_MAX) if not exact else None
        if over is not None and over.any():
            raise OutputError(f"--out {out}: {int(over.sum())} measured pixels exceed {UINT16_MAX * out_scale:g} m, "
                              f"the largest uint16 value in {out_scale:g} m units; write float metres "
                              f"(.npy, .tif or .exr) instead")
    data, clipped, written = encode_depth(out, result_m, kind, out_scale,
                                          keep if exact else None, depth.raw if exact else None)
    if clipped and notes is not None:
        notes.append(f"{clipped} predicted pixels beyond {UINT16_MAX * out_scale:g} m were clipped to the "
                     f"uint16 range of {out}")
    lo, hi = depth_range(depth.metres, written)
    _, prev = cv2.imencode(".png", sheet([(rgb_to_bgr(rgb), "RGB"),
                                           (colorize(depth.metres, lo, hi), f"input ({lo:.2f}-{hi:.2f} m)"),
                                           (colorize(written, lo, hi), "refined" if refine else "filled")], 3))
    files = [(out, "--out", data), (preview, "--out", prev.tobytes())]
    points = None
    if K is not None:
        ply_data, points = point_cloud_bytes(written, rgb, K)
        files.append((ply_path, "--ply", ply_data))
    write_outputs(files)

    result = {
        "out": str(out), "preview": str(preview), "mode": "refine" if refine else "fill",
        "input_units": depth.units,
        "output_units": f"{kind} metres" if kind == "float32" else f"{kind}, {out_scale:g} m per unit",
        "model_range_m": [lo_m, hi_m],
        "pixels": int(h * w), "measured": int(measured.sum()), "valid_fraction": round(fraction, 6),
        "holes_filled": int(masks["holes"].sum()),
        "measured_refined": int(masks["refined"].sum()),
        "measured_unchanged": int((measured & ~masks["refined"]).sum()),
        "out_of_range_passed_through": int(masks["out_of_range"].sum()),
        "clipped": clipped,
        "median_depth_m": float(np.median(written[written > 0])),
    }
    if points is not None:
        result["ply"] = str(ply_path)
        result["points"] = points
    return result
