"""The LingBot-Depth-S sample schema: field names, encodings, and the one validator.

A sample is a dict ``{"__key__": str, <field>: np.ndarray, ..., "meta": dict}``. In a shard each field
is one tar member ``<key>.<field>.<ext>``. Frames: ``ir`` = rectified left IR camera (720x960 by
default), ``rgb`` = RGB camera (960x1280 by default). Depths are planar z in metres (GT, float32,
0 = no surface) or millimetres (sensor, uint16, 0 = hole). Disparities are pixels of the left IR image.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass

import cv2
import numpy as np
import OpenEXR

MATERIAL_CLASSES: dict[int, str] = {
    0: "none",
    1: "textured",
    2: "textureless",
    3: "glossy",
    4: "metal",
    5: "mirror",
    6: "glass",
    7: "dark",
}
CLASS_IDS: dict[str, int] = {name: i for i, name in MATERIAL_CLASSES.items()}
MATERIAL_GROUPS: dict[str, tuple[str, ...]] = {
    "transparent": ("glass",),
    "specular": ("metal", "mirror", "glossy"),
}

DEFAULT_IR_SIZE = (720, 960)  # H, W
DEFAULT_RGB_SIZE = (960, 1280)  # H, W


@dataclass(frozen=True)
class Field:
    """One sample field: file extension, allowed dtypes, channels (0 = 2-D), image frame, meaning."""

    ext: str
    dtypes: tuple[str, ...]
    channels: int
    frame: str  # "ir" or "rgb"
    doc: str
    gt_depth: bool = False  # must be finite and >= 0


FIELDS: dict[str, Field] = {
    "rgb": Field("png", ("uint8",), 3, "rgb", "RGB image, sRGB"),
    "ir_left": Field("png", ("uint8", "uint16"), 0, "ir", "left IR image (rectified, reference)"),
    "ir_right": Field("png", ("uint8", "uint16"), 0, "ir", "right IR image (rectified)"),
    "depth_ir": Field("exr", ("float32",), 0, "ir", "GT planar z, metres, left IR frame", True),
    "depth_rgb": Field("exr", ("float32",), 0, "rgb", "GT planar z, metres, RGB frame", True),
    "disparity": Field("exr", ("float32",), 0, "ir", "GT disparity of left IR, pixels"),
    "material": Field("png", ("uint8",), 0, "ir", "material class id, left IR frame"),
    "material_rgb": Field("png", ("uint8",), 0, "rgb", "material class id, RGB frame"),
    "instance": Field("png", ("uint16",), 0, "ir", "object id, left IR frame"),
    "instance_rgb": Field("png", ("uint16",), 0, "rgb", "object id, RGB frame"),
    "sensor_depth": Field("png", ("uint16",), 0, "rgb", "sensor depth, mm, 0 = hole, RGB frame"),
    "sensor_depth_ir": Field("png", ("uint16",), 0, "ir", "sensor depth, mm, 0 = hole, left IR"),
    "sensor_disparity": Field("exr", ("float32",), 0, "ir", "sensor disparity, px, 0 = hole"),
}
RAW_FIELDS = ("rgb", "ir_left", "ir_right", "depth_ir", "depth_rgb", "disparity", "material", "instance")
SENSOR_FIELDS = ("sensor_depth", "sensor_depth_ir", "sensor_disparity")
REQUIRED_META = (
    "K_ir", "K_rgb", "baseline_m", "focal_mm", "T_rgb_from_ir", "T_world_from_ir",
    "projector", "scene_id", "view_id", "seed", "material_classes",
)
EXTENSIONS = {name: f.ext for name, f in FIELDS.items()} | {"meta": "json"}


class SchemaError(ValueError):
    """A field that cannot be encoded or decoded; the message names the field."""


# ---------------------------------------------------------------- encoding


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG of a uint8/uint16 grey or RGB image (RGB channel order in memory)."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise SchemaError(f"PNG encoding failed for array {image.dtype} {image.shape}")
    return buf.tobytes()


def decode_png(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SchemaError("not a decodable PNG")
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image


def encode_exr(array: np.ndarray) -> bytes:
    """Lossless (ZIP) single-channel float32 EXR, channel ``Z``."""
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    buf = io.BytesIO()
    OpenEXR.File(header, {"Z": np.ascontiguousarray(array, dtype=np.float32)}).write(buf)
    return buf.getvalue()


def decode_exr(data: bytes) -> np.ndarray:
    try:
        channels = OpenEXR.File(io.BytesIO(data), separate_channels=True).channels()
    except Exception as exc:  # OpenEXR raises plain RuntimeError/ValueError subclasses
        raise SchemaError(f"not a decodable EXR ({exc})") from None
    if "Z" not in channels:
        raise SchemaError(f"EXR has channels {sorted(channels)}, expected 'Z'")
    return np.ascontiguousarray(channels["Z"].pixels, dtype=np.float32)


def encode_field(name: str, value) -> bytes:
    """Bytes of one field as stored in a shard."""
    if name == "meta":
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    spec = FIELDS.get(name)
    if spec is None:
        raise SchemaError(f"unknown field {name!r}; known: {', '.join(EXTENSIONS)}")
    value = np.asarray(value)
    if value.dtype.name not in spec.dtypes:
        raise SchemaError(f"field {name!r} must be {'/'.join(spec.dtypes)}, got {value.dtype}")
    return encode_exr(value) if spec.ext == "exr" else encode_png(value)


def decode_field(name: str, data: bytes):
    """Inverse of :func:`encode_field`; raises SchemaError naming the field."""
    try:
        if name == "meta":
            return json.loads(data)
        spec = FIELDS.get(name)
        if spec is None:
            raise SchemaError("unknown field")
        return decode_exr(data) if spec.ext == "exr" else decode_png(data)
    except (SchemaError, ValueError) as exc:
        raise SchemaError(f"field {name!r}: {exc}") from None


# ---------------------------------------------------------------- validation


def validate_sample(sample: dict, required: tuple[str, ...] = RAW_FIELDS) -> list[str]:
    """Problems with one decoded sample (empty list = valid): fields, dtypes, shapes, finite GT."""
    problems: list[str] = []
    for name in required:
        if name not in sample:
            problems.append(f"missing field {name!r}")
    if "meta" not in sample:
        problems.append("missing field 'meta'")
    else:
        meta = sample["meta"]
        if not isinstance(meta, dict):
            problems.append("meta is not a JSON object")
        else:
            problems += [f"meta lacks key {k!r}" for k in REQUIRED_META if k not in meta]
    sizes: dict[str, tuple[int, int]] = {}
    for name, value in sample.items():
        if name in ("__key__", "meta") or name.startswith("__"):
            continue
        spec = FIELDS.get(name)
        if spec is None:
            problems.append(f"unknown field {name!r}")
            continue
        if not isinstance(value, np.ndarray):
            problems.append(f"field {name!r} is {type(value).__name__}, not an array")
            continue
        if value.dtype.name not in spec.dtypes:
            problems.append(f"field {name!r} has dtype {value.dtype}, expected {'/'.join(spec.dtypes)}")
        want_ndim = 3 if spec.channels else 2
        if value.ndim != want_ndim or (spec.channels and value.shape[2] != spec.channels):
            want = "HxWx3" if spec.channels else "HxW"
            problems.append(f"field {name!r} has shape {value.shape}, expected {want}")
            continue
        hw = value.shape[:2]
        if spec.frame in sizes and sizes[spec.frame] != hw:
            problems.append(
                f"field {name!r} is {hw[0]}x{hw[1]} but other {spec.frame}-frame fields are "
                f"{sizes[spec.frame][0]}x{sizes[spec.frame][1]}"
            )
        sizes.setdefault(spec.frame, hw)
        if spec.gt_depth or name == "disparity":
            bad = ~np.isfinite(value)
            if bad.any():
                problems.append(f"field {name!r} has {int(bad.sum())} non-finite values (NaN/inf)")
            elif (value < 0).any():
                problems.append(f"field {name!r} has {int((value < 0).sum())} negative values")
    return problems
