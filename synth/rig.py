"""Randomized active-stereo rig (pure Python): two rectified IR cameras, an RGB camera, a projector.

Conventions
-----------
* Frames are OpenCV (x right, y down, z forward), metres. The reference frame ``ir`` is the left IR
  camera. The right IR camera is the left one translated by +baseline along x (rectified pair), so a
  left pixel (u, v) with disparity d matches right pixel (u - d, v) and d = fx * b / z exactly.
* Sensor: every camera uses a 36 mm wide sensor with *horizontal* fit (Blender ``sensor_fit =
  'HORIZONTAL'``), square pixels, so fx = fy = W * f_mm / 36. At W = 960 and f = 16-28 mm,
  fx = 427-747 px (horizontal FOV 96.7-65.5 deg).
* Principal point at the image centre in OpenCV pixel coordinates (pixel centres at integers):
  cx = (W - 1) / 2, cy = (H - 1) / 2, which is Blender's unshifted camera.
* The projector is a pinhole light source between the IR cameras; its pattern image (H_p x W_p
  projector pixels) has focal length fx_p chosen so that its field of view is ``fov_margin`` times
  wider (in tangent) than the IR camera's, so it covers the IR view despite its offset.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

SENSOR_WIDTH_MM = 36.0
MAX_SIDE_PX = 8192
MIN_SIDE_PX = 16


def _check_range(name: str, rng: tuple[float, float], positive: bool = True) -> None:
    lo, hi = rng
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name}: range {rng} must be finite")
    if lo > hi:
        raise ValueError(f"{name}: range {rng} is empty (low > high)")
    if positive and lo <= 0:
        raise ValueError(f"{name}: range {rng} must be positive (low > 0)")


@dataclass(frozen=True)
class RigRanges:
    """Sampling ranges of the rig (metres, millimetres, degrees, pixels as named)."""

    baseline_m: tuple[float, float] = (0.05, 0.20)
    focal_mm: tuple[float, float] = (16.0, 28.0)
    rgb_focal_scale: tuple[float, float] = (0.95, 1.25)  # RGB focal = IR focal x this
    ir_size: tuple[int, int] = (720, 960)  # H, W
    rgb_size: tuple[int, int] = (960, 1280)  # H, W
    rgb_offset_m: float = 0.015  # RGB centre in the left IR frame: U(-this, this) in x, y; U(-this/3, this/3) in z
    rgb_rot_deg: float = 1.0  # RGB camera: each Euler angle U(-this, this)
    projector_x_frac: tuple[float, float] = (0.25, 0.75)  # projector x = frac * baseline
    projector_yz_m: float = 0.008  # projector y, z offsets U(-this, this)
    projector_rot_deg: float = 1.0
    projector_fov_margin: tuple[float, float] = (1.10, 1.25)
    # log-uniform. Checked against the scenes' IR ambient (scenes.lighting): on diffuse surfaces a dot
    # peak is (median) ~7x the ambient IR of a daylit room at 1 m and ~1x at 4 m (~25x and ~3x at
    # night), and below the ambient where the sun falls directly: the pattern washes out there.
    projector_power_w: tuple[float, float] = (150.0, 600.0)
    pattern_supersample: float = 1.5  # projector pixels per IR pixel (finer than the camera)
    scale: float = 1.0  # multiplies every resolution (and so the intrinsics in pixels)

    def validate(self) -> None:
        """Raise ValueError naming the option if a range is empty/non-positive or a size does not fit."""
        _check_range("baseline_m", self.baseline_m)
        _check_range("focal_mm", self.focal_mm)
        _check_range("rgb_focal_scale", self.rgb_focal_scale)
        _check_range("projector_x_frac", self.projector_x_frac, positive=False)
        _check_range("projector_fov_margin", self.projector_fov_margin)
        _check_range("projector_power_w", self.projector_power_w)
        if self.projector_fov_margin[0] < 1.0:
            raise ValueError(f"projector_fov_margin {self.projector_fov_margin} must be >= 1 "
                             "(the pattern must cover the IR field of view)")
        if not 0 < self.scale <= 4:
            raise ValueError(f"scale {self.scale} must be in (0, 4]")
        for name in ("rgb_offset_m", "rgb_rot_deg", "projector_yz_m", "projector_rot_deg"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} {getattr(self, name)} must be >= 0")
        for name, size in (("ir_size", self.ir_size), ("rgb_size", self.rgb_size)):
            h, w = scaled_size(size, self.scale)
            if min(h, w) < MIN_SIDE_PX or max(h, w) > MAX_SIDE_PX:
                raise ValueError(
                    f"{name} {size[0]}x{size[1]} at scale {self.scale} gives {h}x{w} px, which does "
                    f"not fit in [{MIN_SIDE_PX}, {MAX_SIDE_PX}] px per side")
        ph, pw = self.pattern_size(self.projector_fov_margin[1])
        if max(ph, pw) > MAX_SIDE_PX:
            raise ValueError(f"ir_size with scale {self.scale} needs a {ph}x{pw} projector pattern, "
                             f"larger than {MAX_SIDE_PX} px")

    def pattern_size(self, margin: float) -> tuple[int, int]:
        """Projector image size (H, W) for a given field-of-view margin."""
        h, w = scaled_size(self.ir_size, self.scale)
        s = self.pattern_supersample * margin
        return int(math.ceil(h * s)), int(math.ceil(w * s))

    def to_dict(self) -> dict:
        return asdict(self)


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """(H, W) multiplied by ``scale`` and rounded to whole pixels."""
    return max(1, int(round(size[0] * scale))), max(1, int(round(size[1] * scale)))


def intrinsics(focal_mm: float, height: int, width: int) -> np.ndarray:
    """3x3 K (pixels) for a centred pinhole on a 36 mm horizontal-fit sensor."""
    fx = width * focal_mm / SENSOR_WIDTH_MM
    return np.array([[fx, 0.0, (width - 1) / 2.0], [0.0, fx, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def euler_xyz(rx: float, ry: float, rz: float) -> np.ndarray:
    """Rotation matrix R = Rz @ Ry @ Rx (radians)."""
    cx, sx, cy, sy, cz, sz = math.cos(rx), math.sin(rx), math.cos(ry), math.sin(ry), math.cos(rz), math.sin(rz)
    r_x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    r_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    r_z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return r_z @ r_y @ r_x


def rigid(rotation: np.ndarray, translation) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = rotation
    t[:3, 3] = translation
    return t


@dataclass
class Projector:
    """Pinhole projector. ``T_ir_from_proj`` places it in the left IR frame (OpenCV axes)."""

    T_ir_from_proj: np.ndarray
    K: np.ndarray  # 3x3, projector pixels (continuous coords: image spans [0, W] x [0, H])
    size: tuple[int, int]  # pattern H, W (projector pixels)
    power_w: float
    fov_margin: float

    def to_meta(self) -> dict:
        return {"T_ir_from_projector": self.T_ir_from_proj.tolist(), "K": self.K.tolist(),
                "size_hw": list(self.size), "power_w": self.power_w, "fov_margin": self.fov_margin}


@dataclass
class Rig:
    """One sampled rig. Sizes are (H, W) pixels; K matrices in pixels; T in metres."""

    baseline_m: float
    focal_mm: float
    rgb_focal_mm: float
    ir_size: tuple[int, int]
    rgb_size: tuple[int, int]
    K_ir: np.ndarray
    K_rgb: np.ndarray
    T_rgb_from_ir: np.ndarray
    projector: Projector
    scale: float = 1.0
    extra: dict = field(default_factory=dict)

    @property
    def fx_ir(self) -> float:
        return float(self.K_ir[0, 0])

    @property
    def T_ir_from_right(self) -> np.ndarray:
        """Right IR camera in the left IR frame: translation (+b, 0, 0)."""
        return rigid(np.eye(3), (self.baseline_m, 0.0, 0.0))

    def disparity_from_depth(self, z: np.ndarray) -> np.ndarray:
        """GT disparity (px, left IR) from planar z (m); 0 where z == 0."""
        z = np.asarray(z, np.float64)
        d = np.zeros_like(z)
        ok = z > 0
        d[ok] = self.fx_ir * self.baseline_m / z[ok]
        return d.astype(np.float32)

    def to_meta(self) -> dict:
        """Meta keys of the schema (K_ir, K_rgb, T_rgb_from_ir, baseline_m, focal_mm, projector)."""
        return {
            "K_ir": self.K_ir.tolist(), "K_rgb": self.K_rgb.tolist(),
            "T_rgb_from_ir": self.T_rgb_from_ir.tolist(), "baseline_m": self.baseline_m,
            "focal_mm": self.focal_mm, "rgb_focal_mm": self.rgb_focal_mm,
            "fx_ir_px": self.fx_ir, "ir_size_hw": list(self.ir_size), "rgb_size_hw": list(self.rgb_size),
            "sensor_width_mm": SENSOR_WIDTH_MM, "sensor_fit": "horizontal", "scale": self.scale,
            "projector": self.projector.to_meta() | self.extra.get("pattern", {}),
        }


def sample_rig(rng: np.random.Generator, ranges: RigRanges = RigRanges()) -> Rig:
    """Draw one rig from ``ranges`` (validated first) with the explicit generator ``rng``."""
    ranges.validate()
    u = lambda r: float(rng.uniform(r[0], r[1]))  # noqa: E731
    baseline = u(ranges.baseline_m)
    focal = u(ranges.focal_mm)
    rgb_focal = focal * u(ranges.rgb_focal_scale)
    ir_hw = scaled_size(ranges.ir_size, ranges.scale)
    rgb_hw = scaled_size(ranges.rgb_size, ranges.scale)
    k_ir = intrinsics(focal, *ir_hw)
    k_rgb = intrinsics(rgb_focal, *rgb_hw)

    o = ranges.rgb_offset_m
    rgb_centre = np.array([u((-o, o)), u((-o, o)), u((-o / 3, o / 3))])
    rr = math.radians(ranges.rgb_rot_deg)
    r_ir_from_rgb = euler_xyz(u((-rr, rr)), u((-rr, rr)), u((-rr, rr)))
    t_rgb_from_ir = np.linalg.inv(rigid(r_ir_from_rgb, rgb_centre))

    p = ranges.projector_yz_m
    proj_centre = np.array([baseline * u(ranges.projector_x_frac), u((-p, p)), u((-p, 0.0))])
    pr = math.radians(ranges.projector_rot_deg)
    r_ir_from_proj = euler_xyz(u((-pr, pr)), u((-pr, pr)), u((-pr, pr)))
    margin = u(ranges.projector_fov_margin)
    ph, pw = ranges.pattern_size(margin)
    # same angular coverage in tangent: tan(half fov_p) = margin * tan(half fov_ir)
    fx_p = (pw / 2.0) / (margin * (ir_hw[1] / 2.0) / k_ir[0, 0])
    k_p = np.array([[fx_p, 0.0, pw / 2.0], [0.0, fx_p, ph / 2.0], [0.0, 0.0, 1.0]])
    lo, hi = ranges.projector_power_w
    power = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    proj = Projector(rigid(r_ir_from_proj, proj_centre), k_p, (ph, pw), power, margin)
    return Rig(baseline, focal, rgb_focal, ir_hw, rgb_hw, k_ir, k_rgb, t_rgb_from_ir, proj, ranges.scale)


def with_scale(ranges: RigRanges, scale: float) -> RigRanges:
    """The same ranges at another resolution scale."""
    return replace(ranges, scale=scale)
