"""The LingBot-Depth-S sample schema: field names, encodings, and the one validator.

A sample is a dict ``{"__key__": str, <field>: np.ndarray, ..., "meta": dict}``. In a shard each field
is one tar member ``<key>.<field>.<ext>``. Frames: ``ir`` = rectified left IR camera (720x960 by
default), ``rgb`` = RGB camera (960x1280 by default). Depths are planar z in metres (GT, float32,
0 = no surface) or millimetres (sensor, uint16, 0 = hole). Disparities are pixels of the left IR image.

Storage (``Field.codec``, chosen from ``benchmarks/sample_bytes.py``): GT depth as PXR24 EXR (24-bit
float, relative error <= 2**-16 = 1.5e-5, zeros exact), images and label maps as lossless PNG (zlib
level 3 for RGB/IR, 6 for label maps), and ``disparity`` not stored at all: it is exactly
``fx * b / depth_ir`` (0 where depth_ir is 0) and :func:`derive_fields` computes it on decode
(:data:`DERIVED_FIELDS`), so it is consistent with the stored depth to float32 rounding. EXRs hold one
channel ``Y`` (OpenCV reads it). Decoding is codec-agnostic: any EXR compression or pixel type, channel
``Y`` or ``Z``, any PNG level, so old datasets (ZIP float32 EXRs in ``Z``, stored disparity) still read.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass

import cv2
import numpy as np
import OpenEXR

from lbd.classes import CLASS_IDS, MATERIAL_CLASSES, MATERIAL_GROUPS  # noqa: E402,F401  (defined once, re-exported)

DEFAULT_IR_SIZE = (720, 960)  # H, W
DEFAULT_RGB_SIZE = (960, 1280)  # H, W
PNG_LEVEL = 3  # zlib level of image PNGs (lossless at any level; see benchmarks/sample_bytes.py)


@dataclass(frozen=True)
class Field:
    """One sample field: file extension, allowed dtypes, channels (0 = 2-D), image frame, meaning."""

    ext: str
    dtypes: tuple[str, ...]
    channels: int
    frame: str  # "ir" or "rgb"
    doc: str
    gt_depth: bool = False  # must be finite and >= 0
    codec: str = ""  # how encode_field writes it: "png-<zlib level>" or "exr-<OpenEXR compression>"


PNG = f"png-{PNG_LEVEL}"
LABEL_PNG = "png-6"  # label maps: half the bytes of level 3 for ~1 ms more
GT_DEPTH_EXR = "exr-PXR24"  # lossy 24-bit float: within 2**-16 relative of the float32 render
LOSSLESS_EXR = "exr-ZIP"

FIELDS: dict[str, Field] = {
    "rgb": Field("png", ("uint8",), 3, "rgb", "RGB image, sRGB", codec=PNG),
    "ir_left": Field("png", ("uint8", "uint16"), 0, "ir", "left IR image (rectified, reference)", codec=PNG),
    "ir_right": Field("png", ("uint8", "uint16"), 0, "ir", "right IR image (rectified)", codec=PNG),
    "depth_ir": Field("exr", ("float32",), 0, "ir", "GT planar z, metres, left IR frame", True, GT_DEPTH_EXR),
    "depth_rgb": Field("exr", ("float32",), 0, "rgb", "GT planar z, metres, RGB frame", True, GT_DEPTH_EXR),
    "disparity": Field("exr", ("float32",), 0, "ir",
                       "GT disparity of left IR, pixels: fx*b/depth_ir, derived on decode", codec=LOSSLESS_EXR),
    "material": Field("png", ("uint8",), 0, "ir", "material class id, left IR frame", codec=LABEL_PNG),
    "material_rgb": Field("png", ("uint8",), 0, "rgb", "material class id, RGB frame", codec=LABEL_PNG),
    "instance": Field("png", ("uint16",), 0, "ir", "object id, left IR frame", codec=LABEL_PNG),
    "instance_rgb": Field("png", ("uint16",), 0, "rgb", "object id, RGB frame", codec=LABEL_PNG),
    "sensor_depth": Field("png", ("uint16",), 0, "rgb", "sensor depth, mm, 0 = hole, RGB frame", codec=PNG),
    "sensor_depth_ir": Field("png", ("uint16",), 0, "ir", "sensor depth, mm, 0 = hole, left IR", codec=PNG),
    "sensor_disparity": Field("exr", ("float32",), 0, "ir", "sensor disparity, px, 0 = hole",
                              codec=LOSSLESS_EXR),
}
# Fields every decoded raw sample has (readers may rely on them; derived ones are computed on decode).
RAW_FIELDS = ("rgb", "ir_left", "ir_right", "depth_ir", "depth_rgb", "disparity", "material", "instance")
# Fields not stored in new shards: computed on decode by derive_fields from stored fields and meta.
DERIVED_FIELDS = ("disparity",)
# Fields a new raw shard stores for every sample.
STORED_RAW_FIELDS = tuple(f for f in RAW_FIELDS if f not in DERIVED_FIELDS)
SENSOR_FIELDS = ("sensor_depth", "sensor_depth_ir", "sensor_disparity")
REQUIRED_META = (
    "K_ir", "K_rgb", "baseline_m", "focal_mm", "T_rgb_from_ir", "T_world_from_ir",
    "projector", "scene_id", "view_id", "seed", "material_classes",
)
EXTENSIONS = {name: f.ext for name, f in FIELDS.items()} | {"meta": "json"}


class SchemaError(ValueError):
    """A field that cannot be encoded or decoded; the message names the field."""


# ---------------------------------------------------------------- encoding


EXR_COMPRESSIONS = {"NONE": OpenEXR.NO_COMPRESSION, "ZIP": OpenEXR.ZIP_COMPRESSION,
                    "ZIPS": OpenEXR.ZIPS_COMPRESSION, "PIZ": OpenEXR.PIZ_COMPRESSION,
                    "PXR24": OpenEXR.PXR24_COMPRESSION, "B44": OpenEXR.B44_COMPRESSION,
                    "DWAA": OpenEXR.DWAA_COMPRESSION}


def encode_png(image: np.ndarray, level: int = PNG_LEVEL) -> bytes:
    """Lossless PNG of a uint8/uint16 grey or RGB image (RGB channel order in memory)."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, int(level)])
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


EXR_CHANNEL = "Y"  # one grey channel that OpenCV's EXR reader returns (it reads a lone "Z" as zeros)
EXR_CHANNELS_READ = ("Y", "Z")  # "Z": datasets written before format version 2


def encode_exr(array: np.ndarray, compression: str = "ZIP") -> bytes:
    """Single-channel float32 EXR (channel ``Y``). ZIP (default) is lossless; PXR24 rounds each value
    to a 24-bit float (15 mantissa bits: relative error <= 2**-16, zeros exact)."""
    if compression not in EXR_COMPRESSIONS:
        raise SchemaError(f"unknown EXR compression {compression!r}; known: {', '.join(EXR_COMPRESSIONS)}")
    header = {"compression": EXR_COMPRESSIONS[compression], "type": OpenEXR.scanlineimage}
    buf = io.BytesIO()
    OpenEXR.File(header, {EXR_CHANNEL: np.ascontiguousarray(array, dtype=np.float32)}).write(buf)
    return buf.getvalue()


def decode_exr(data: bytes) -> np.ndarray:
    """The depth channel (``Y``, or ``Z`` in old datasets) of an EXR of any compression and pixel
    type (float32 or half), as float32."""
    try:
        channels = OpenEXR.File(io.BytesIO(data), separate_channels=True).channels()
    except Exception as exc:  # OpenEXR raises plain RuntimeError/ValueError subclasses
        raise SchemaError(f"not a decodable EXR ({exc})") from None
    for name in EXR_CHANNELS_READ:
        if name in channels:
            return np.ascontiguousarray(channels[name].pixels, dtype=np.float32)
    raise SchemaError(f"EXR has channels {sorted(channels)}, expected one of {', '.join(EXR_CHANNELS_READ)}")


def encode_field(name: str, value) -> bytes:
    """Bytes of one field as stored in a shard, with the field's codec (``FIELDS[name].codec``)."""
    if name == "meta":
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    spec = FIELDS.get(name)
    if spec is None:
        raise SchemaError(f"unknown field {name!r}; known: {', '.join(EXTENSIONS)}")
    value = np.asarray(value)
    if value.dtype.name not in spec.dtypes:
        raise SchemaError(f"field {name!r} must be {'/'.join(spec.dtypes)}, got {value.dtype}")
    kind, _, param = spec.codec.partition("-")
    if kind == "exr":
        return encode_exr(value, param or "ZIP")
    return encode_png(value, int(param) if param else PNG_LEVEL)


def decode_field(name: str, data: bytes):
    """Inverse of :func:`encode_field` (any EXR compression, any PNG level); raises SchemaError naming
    the field."""
    try:
        if name == "meta":
            return json.loads(data)
        spec = FIELDS.get(name)
        if spec is None:
            raise SchemaError("unknown field")
        return decode_exr(data) if spec.ext == "exr" else decode_png(data)
    except (SchemaError, ValueError) as exc:
        raise SchemaError(f"field {name!r}: {exc}") from None


# ---------------------------------------------------------------- derived fields


def disparity_from_depth(depth_ir: np.ndarray, meta: dict) -> np.ndarray:
    """GT disparity (px, left IR) = fx * b / z with fx = K_ir[0][0] and b = baseline_m, 0 where z == 0.

    Computed in float64 and rounded to float32, exactly as the renderer (``synth.rig``) did when it
    stored disparity, so a float32 depth gives back the stored disparity bit for bit.
    """
    try:
        fxb = float(meta["K_ir"][0][0]) * float(meta["baseline_m"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise SchemaError(f"cannot derive 'disparity': meta lacks K_ir[0][0] or baseline_m ({exc})") from None
    z = np.asarray(depth_ir, np.float64)
    d = np.zeros(z.shape, np.float64)
    ok = z > 0
    np.divide(fxb, z, out=d, where=ok)
    return d.astype(np.float32)


_DERIVERS = {"disparity": (("depth_ir",), lambda s: disparity_from_depth(s["depth_ir"], s["meta"]))}


def fields_to_read(wanted: set[str] | None) -> set[str] | None:
    """The stored fields a reader must decode to give ``wanted`` (derived fields need their sources)."""
    if wanted is None:
        return None
    need = set(wanted) | {"meta"}
    for name in set(wanted) & set(DERIVED_FIELDS):
        need |= set(_DERIVERS[name][0])
    return need


def derive_fields(sample: dict, wanted: set[str] | None = None) -> dict:
    """Add the derived fields (``DERIVED_FIELDS``) that ``sample`` lacks, in place, and return it.

    ``wanted`` limits which derived fields are computed (None = all). A field already present (an old
    shard that stored it) is kept as stored; one whose sources (e.g. ``depth_ir`` and ``meta``) are not in
    the sample is left out.
    """
    for name in DERIVED_FIELDS:
        if name in sample or (wanted is not None and name not in wanted):
            continue
        sources, fn = _DERIVERS[name]
        if "meta" in sample and all(src in sample for src in sources):
            sample[name] = fn(sample)
    return sample


def decode_sample(members: dict, wanted: set[str] | None = None) -> dict:
    """Decode a webdataset sample dict into arrays, derived fields included.

    ``members`` maps ``"<field>.<ext>"`` (as ``webdataset.WebDataset`` yields them, e.g. ``"rgb.png"``,
    ``"depth_ir.exr"``, ``"meta.json"``) to bytes; keys starting with ``__`` (``__key__``, ``__url__``)
    are passed through. Returns ``{"__key__": ..., "rgb": ndarray, ..., "disparity": ndarray,
    "meta": dict}``. ``wanted`` limits the fields decoded and derived (None = all; meta is always
    decoded). Use as ``wds.WebDataset(urls).map(schema.decode_sample)``.
    """
    out: dict = {}
    need: set[str] = fields_to_read(wanted) or set()
    for member, value in members.items():
        if member.startswith("__"):
            out[member] = value
            continue
        name = member.rsplit(".", 1)[0] if "." in member else member
        if wanted is not None and name not in need:
            continue
        out[name] = decode_field(name, value)
    derive_fields(out, wanted)
    if wanted is not None:
        for name in need - set(wanted) - {"meta"}:  # sources decoded only to derive a wanted field
            out.pop(name, None)
    return out


# ---------------------------------------------------------------- validation


def validate_sample(sample: dict, required: tuple[str, ...] = RAW_FIELDS) -> list[str]:
    """Problems with one decoded sample (empty list = valid): fields, dtypes, shapes, finite GT.

    A required field of ``DERIVED_FIELDS`` may be absent when its sources are present (it is not
    stored, :func:`derive_fields` computes it); when present (stored or derived) it is checked like
    any other field.
    """
    problems: list[str] = []
    for name in required:
        if name not in sample:
            if name in _DERIVERS and all(src in sample for src in _DERIVERS[name][0]):
                continue
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
