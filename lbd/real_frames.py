"""Folders of real RGB-D captures: one frame per sub-folder, read onto the depth camera's pixel grid.

Layout (``../shared/data/real_rgbd`` is one; a single frame folder works too)::

    DIR/index.json                  optional: {frame: {"sensor", "sensor_type", "registered_to_rgb", ...}}
    DIR/<frame>/rgb.png|jpg|...     8-bit (or 16-bit) colour, registered to the depth
    DIR/<frame>/raw_depth.png       single-channel uint16, ``--depth-scale`` metres per unit
                                    (default 0.001 = millimetres), 0 = hole
    DIR/<frame>/intrinsics.txt      3x3 K (or ``fx fy cx cy``) in pixels of the depth grid

Conversions (each is reported in :attr:`RealFrame.notes`, never silent):

* Depth in other units: ``depth_scale`` (``--depth-scale``) metres per stored unit, e.g. 0.0002 for TUM's
  5000 units per metre, 0.0001 for 0.1 mm. An index entry's own ``"depth_scale"`` overrides it for that
  frame. A frame whose median depth falls outside 0.1-50 m with the scale used is refused (wrong units).
* RGB of another size than the depth (registered, different resolution, e.g. PhoXi's 2x RGB): the RGB is
  resized to the depth grid (area). Aspect ratios differing by more than 2 % are refused (not the same
  view). ``intrinsics.txt`` is always the depth grid's.
* Missing ``intrinsics.txt``: the index entry's ``"K"`` is used when present; otherwise an error (or, with
  ``require_intrinsics=False``, ``K`` is None: the evaluation does not need it).
* 16-bit RGB is scaled to 8 bit; grey RGB is replicated to three channels.

Refused with a :class:`RealFrameError` naming the frame: no depth or RGB file, unreadable files, 8-bit
or colour depth PNGs (no depth can be recovered from 256 levels or a colour map), float depth PNGs, depth
with no valid pixel, a malformed ``intrinsics.txt``. Bad option values are :class:`UsageError`.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from lbd.errors import UsageError, UserError

DEPTH_NAME = "raw_depth.png"
INTRINSICS_NAME = "intrinsics.txt"
INDEX_NAME = "index.json"
GT_NAME = "gt_depth_opaque_8frame_mean.png"  # optional per-frame GT depth: uint16, raw_depth.png's units and grid, 0 = none
MASK_NAME = "transparent_mask.png"  # optional: non-zero = transparent object (raw depth missing or wrong there)
RGB_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff")
PLAUSIBLE_MEDIAN_M = (0.1, 50.0)  # median depth outside this range = wrong --depth-scale
ASPECT_TOLERANCE = 0.02


class RealFrameError(UserError, ValueError):
    """A real frame that cannot be used; the message names the frame folder and the file."""


@dataclass
class RealFrame:
    """One real capture on the depth grid. ``rgb`` (H, W, 3) uint8 RGB; ``depth`` (H, W) float32 metres,
    0 = hole; ``K`` 3x3 of that grid (None only with ``require_intrinsics=False`` and none found)."""

    name: str
    path: Path
    rgb: np.ndarray
    depth: np.ndarray
    K: np.ndarray | None
    depth_scale: float
    sensor: str = "unknown"
    sensor_type: str = "unknown"
    registered: bool | None = None
    meta: dict = field(default_factory=dict)  # the index.json entry ({} without one)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> np.ndarray:
        return self.depth > 0

    @property
    def valid_fraction(self) -> float:
        return float(self.valid.mean())

    def extra(self, name: str) -> Path | None:
        """Path of an extra file of the frame folder (e.g. ``transparent_mask.png``), None if absent."""
        p = self.path / name
        return p if p.is_file() else None


def _check_scale(depth_scale: float, option: str = "--depth-scale") -> float:
    try:
        scale = float(depth_scale)
    except (TypeError, ValueError):
        raise UsageError(f"{option} {depth_scale!r}: not a number (metres per depth unit)") from None
    if not np.isfinite(scale) or scale <= 0:
        raise UsageError(f"{option} {depth_scale!r}: must be a positive number of metres per depth unit "
                         f"(0.001 = millimetres)")
    return scale


def read_index(root: Path) -> dict:
    """``root/index.json`` as a dict (``{}`` when absent); a malformed file is an error naming it."""
    path = Path(root) / INDEX_NAME
    if not path.is_file():
        return {}
    try:
        index = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RealFrameError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(index, dict) or not all(isinstance(v, dict) for v in index.values()):
        raise RealFrameError(f"{path}: expected an object {{frame name: {{...}}}}")
    return index


def _rgb_path(folder: Path, entry: dict, root: Path) -> Path | None:
    if isinstance(entry.get("rgb"), str) and (root / entry["rgb"]).is_file():
        return root / entry["rgb"]
    found = sorted(p for p in folder.glob("rgb.*") if p.suffix.lower() in RGB_SUFFIXES)
    return found[0] if found else None


def frame_dirs(root: Path) -> list[Path]:
    """Frame folders of ``root``: ``root`` itself when it holds ``raw_depth.png``, else its sub-folders
    with a ``raw_depth.png`` or an ``rgb.*`` (one without the other is reported by :func:`load_frame`),
    plus every folder named in ``index.json`` (a missing one is an error), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"--real {root}: not a directory")
    if (root / DEPTH_NAME).is_file():
        return [root]
    found = {p for p in root.iterdir() if p.is_dir() and ((p / DEPTH_NAME).is_file() or any(p.glob("rgb.*")))}
    for name in read_index(root):
        if not (root / name).is_dir():
            raise RealFrameError(f"frame {name}: listed in {root / INDEX_NAME} but {root / name} does not exist")
        found.add(root / name)
    if not found:
        raise UsageError(f"--real {root}: no frame folders (<frame>/{DEPTH_NAME} + <frame>/rgb.*) found")
    return sorted(found, key=lambda p: p.name)


def read_depth_png(path: Path, frame: str, scale: float) -> np.ndarray:
    """uint16 single-channel PNG x ``scale`` -> float32 metres, 0 = hole. Refuses 8-bit, colour and float."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise RealFrameError(f"frame {frame}: cannot read depth {path} (not an image?)")
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[:, :, 0]
    if raw.ndim == 3:
        raise RealFrameError(f"frame {frame}: depth {path} has {raw.shape[2]} channels (a colour-coded "
                             f"picture?); expected single-channel uint16 in --depth-scale units")
    if raw.dtype == np.uint8:
        raise RealFrameError(f"frame {frame}: depth {path} is 8-bit: 256 levels cannot hold depth (a "
                             f"visualisation?); save the sensor's uint16 depth (e.g. millimetres)")
    if raw.dtype not in (np.uint16, np.int16, np.int32, np.uint32):
        raise RealFrameError(f"frame {frame}: depth {path} has dtype {raw.dtype}; expected uint16 in "
                             f"--depth-scale units")
    metres = raw.astype(np.float64) * scale
    return np.where(np.isfinite(metres) & (metres > 0), metres, 0.0).astype(np.float32)


def read_rgb_image(path: Path, frame: str) -> np.ndarray:
    """Any 8/16-bit grey, BGR or BGRA image -> (H, W, 3) uint8 RGB."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise RealFrameError(f"frame {frame}: cannot read RGB {path} (not an image?)")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise RealFrameError(f"frame {frame}: RGB {path} has dtype {img.dtype}; expected 8- or 16-bit")
    if img.ndim == 2 or img.shape[2] == 1:
        img = cv2.cvtColor(img.reshape(img.shape[:2]), cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_K(path: Path, frame: str) -> np.ndarray:
    """3x3 K or ``fx fy cx cy`` -> 3x3 float64."""
    try:
        v = np.loadtxt(path, dtype=np.float64).ravel()
    except (OSError, ValueError) as exc:
        raise RealFrameError(f"frame {frame}: cannot read intrinsics {path} ({exc})") from None
    if v.size == 4:
        v = np.array([v[0], 0, v[2], 0, v[1], v[3], 0, 0, 1], np.float64)
    if v.size != 9 or not np.isfinite(v).all():
        raise RealFrameError(f"frame {frame}: intrinsics {path} must hold a 3x3 K or fx fy cx cy "
                             f"({v.size} numbers found)")
    K = v.reshape(3, 3)
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise RealFrameError(f"frame {frame}: intrinsics {path} have a non-positive focal length")
    return K


def load_frame(folder: Path, depth_scale: float = 0.001, *, entry: dict | None = None, root: Path | None = None,
               require_intrinsics: bool = True) -> RealFrame:
    """Read one frame folder (see the module docstring for the rules)."""
    folder = Path(folder)
    root = Path(root) if root is not None else folder.parent
    name = folder.name
    entry = entry or {}
    notes: list[str] = []
    scale = _check_scale(depth_scale)
    if "depth_scale" in entry:
        scale = _check_scale(entry["depth_scale"], f"{root / INDEX_NAME} [{name}].depth_scale")
        notes.append(f"depth scale {scale:g} m/unit from {INDEX_NAME}")
    depth_path = folder / DEPTH_NAME
    if not depth_path.is_file():
        others = sorted(p.name for p in folder.glob("*depth*"))
        hint = f" (found {', '.join(others)}; rename or convert to uint16 {DEPTH_NAME})" if others else ""
        raise RealFrameError(f"frame {name}: {depth_path} does not exist{hint}")
    rgb_path = _rgb_path(folder, entry, root)
    if rgb_path is None:
        raise RealFrameError(f"frame {name}: no RGB image rgb.* ({'/'.join(RGB_SUFFIXES)}) in {folder}")
    depth = read_depth_png(depth_path, name, scale)
    if not (depth > 0).any():
        raise RealFrameError(f"frame {name}: depth {depth_path} has no valid pixel (all zero); nothing to "
                             f"score or complete from: remove the frame")
    median = float(np.median(depth[depth > 0]))
    if not PLAUSIBLE_MEDIAN_M[0] <= median <= PLAUSIBLE_MEDIAN_M[1]:
        raise RealFrameError(f"frame {name}: median depth {median:.4g} m with --depth-scale {scale:g} m/unit "
                             f"is outside {PLAUSIBLE_MEDIAN_M[0]:g}-{PLAUSIBLE_MEDIAN_M[1]:g} m: wrong units? "
                             f"pass --depth-scale (metres per stored unit; 0.001 = mm, 0.0002 = TUM's 1/5000)")
    rgb = read_rgb_image(rgb_path, name)
    h, w = depth.shape
    if rgb.shape[:2] != (h, w):
        rh, rw = rgb.shape[:2]
        if abs((rw / rh) / (w / h) - 1) > ASPECT_TOLERANCE:
            raise RealFrameError(f"frame {name}: RGB {rgb_path.name} is {rw}x{rh} and depth {w}x{h}: different "
                                 f"aspect ratios, so not the same registered view; register the depth to the "
                                 f"RGB camera first")
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if rw > w else cv2.INTER_LINEAR)
        notes.append(f"RGB {rw}x{rh} resized to the depth grid {w}x{h}")
    K = None
    k_path = folder / INTRINSICS_NAME
    if k_path.is_file():
        K = read_K(k_path, name)
    elif isinstance(entry.get("K"), list):
        K = np.asarray(entry["K"], np.float64).reshape(3, 3)
        notes.append(f"no {INTRINSICS_NAME}: K from {INDEX_NAME}")
    elif require_intrinsics:
        raise RealFrameError(f"frame {name}: {k_path} does not exist (3x3 K of the depth grid, pixels) and "
                             f"{INDEX_NAME} gives no K")
    else:
        notes.append(f"no {INTRINSICS_NAME} (not needed here)")
    registered = entry.get("registered_to_rgb")
    if registered is False:
        notes.append("depth not registered to the RGB (index.json): RGB edges may be offset")
    return RealFrame(name=name, path=folder, rgb=rgb, depth=depth, K=K, depth_scale=scale,
                     sensor=str(entry.get("sensor", "unknown")).split(" (")[0].split(",")[0],
                     sensor_type=str(entry.get("sensor_type", "unknown")), registered=registered,
                     meta=entry, notes=notes)


def iter_real_frames(root: Path, depth_scale: float = 0.001, *, require_intrinsics: bool = True
                     ) -> Iterator[RealFrame]:
    """Every frame of ``root`` (sorted by name), read with :func:`load_frame`."""
    root = Path(root)
    _check_scale(depth_scale)
    index = read_index(root) if root.is_dir() else {}
    for folder in frame_dirs(root):
        yield load_frame(folder, depth_scale, entry=index.get(folder.name), root=folder.parent,
                         require_intrinsics=require_intrinsics)


def load_real_frames(root: Path, depth_scale: float = 0.001, *, require_intrinsics: bool = True) -> list[RealFrame]:
    return list(iter_real_frames(root, depth_scale, require_intrinsics=require_intrinsics))


def read_gt_depth(frame: RealFrame) -> np.ndarray | None:
    """The frame's ``GT_NAME`` in metres (0 = none) at its loaded resolution, None when the file is absent.
    Read and checked like ``raw_depth.png`` (integer single-channel, the frame's depth scale); it must be on
    the raw depth's pixel grid. Anything else is a :class:`RealFrameError` naming the file."""
    path = frame.extra(GT_NAME)
    if path is None:
        return None
    h, w = frame.depth.shape
    gt = read_depth_png(path, frame.name, frame.depth_scale)
    if gt.shape != (h, w):
        raise RealFrameError(f"frame {frame.name}: ground truth {path} is {gt.shape[1]}x{gt.shape[0]} but "
                             f"{DEPTH_NAME} is {w}x{h}; it must be on the raw depth's pixel grid")
    return gt


def resize_nearest(a: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """A depth map (or a bool mask) on a (W, H) grid, nearest-exact: the pixel picks of every depth, GT and
    mask of a downscaled frame."""
    if a.dtype == bool:
        return cv2.resize(a.astype(np.uint8), size_wh, interpolation=cv2.INTER_NEAREST_EXACT) > 0
    return cv2.resize(a, size_wh, interpolation=cv2.INTER_NEAREST_EXACT)


def downscale_frame(frame: RealFrame, max_side: int) -> RealFrame:
    """The frame with its longer side at most ``max_side`` px (RGB area, depth nearest, K scaled)."""
    h, w = frame.depth.shape
    s = max_side / max(h, w)
    if s >= 1.0:
        return frame
    size = (max(1, round(w * s)), max(1, round(h * s)))
    K = None
    if frame.K is not None:
        K = frame.K.copy()
        K[0] *= size[0] / w
        K[1] *= size[1] / h
    return RealFrame(name=frame.name, path=frame.path, rgb=cv2.resize(frame.rgb, size, interpolation=cv2.INTER_AREA),
                     depth=resize_nearest(frame.depth, size), K=K,
                     depth_scale=frame.depth_scale, sensor=frame.sensor, sensor_type=frame.sensor_type,
                     registered=frame.registered, meta=frame.meta, notes=list(frame.notes))
