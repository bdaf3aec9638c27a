"""Bytes per sample by field and codec, on full-resolution `default` samples (issue 12, point 4).

Renders (once, cached in --data) a few full-resolution `default` samples through the real `render`
command, then re-encodes every field of every sample with each option and decodes it again:
bytes, max error after decode against the rendered value, encode and decode milliseconds. Requirements
checked per option: GT planar depth within max(0.1 mm, 2e-5 * z) of the float32 render, disparity
within 1e-3 px of fx*b/z, IR lossless, RGB lossless or stated with its PSNR.

    python benchmarks/sample_bytes.py --data /tmp/lbd_bytes/raw   # renders 2 scenes x 2 samples if empty

Results (seed 11, 2 scenes x 2 samples rendered with
``python cli.py render --scenes 2 --samples 4 --quality default --seed 11 --out /tmp/lbd_bytes/raw``,
then ``python benchmarks/sample_bytes.py --data /tmp/lbd_bytes/raw --limit 4 --repeat 5``; full
resolution IR 720x960 / RGB 960x1280; IR 8-bit in 2 samples, 10-bit in 2; shared 2-core machine at load
average 4-5, so the ms are best-of-5 and only comparable within the table). "vs today" compares the
same samples. "meets req." = depth within max(0.1 mm, 2e-5 z) of the float32 render with zeros exact;
disparity within 1e-3 px of fx*b/z (z = the decoded depth); images lossless (lossy RGB options are
stated with their PSNR vs the lossless PNG).

| field | option | bytes/sample | vs today | max error after decode | meets req. | enc ms | dec ms |
|---|---|---:|---:|---|:-:|---:|---:|
| rgb | PNG 3 (today) | 0.928 MB | 100% | lossless | yes | 105 | 26 |
| rgb | PNG 1 | 1.011 MB | 109% | lossless | yes | 67 | 31 |
| rgb | PNG 6 | 0.828 MB | 89% | lossless | yes | 285 | 28 |
| rgb | PNG 9 | 0.773 MB | 83% | lossless | yes | 2920 | 28 |
| rgb | WebP lossless | 0.588 MB | 63% | lossless | yes | 543 | 17 |
| rgb | JPEG q95 | 0.164 MB | 18% | PSNR 44.9 dB (max err 50) | no | 4 | 4 |
| rgb | JPEG q90 | 0.106 MB | 11% | PSNR 43.3 dB (max err 50) | no | 3 | 4 |
| rgb | WebP q95 | 0.093 MB | 10% | PSNR 44.7 dB (max err 45) | no | 85 | 8 |
| rgb | WebP q90 | 0.057 MB | 6% | PSNR 43.1 dB (max err 48) | no | 75 | 7 |
| ir_left | PNG 3 (today) | 0.629 MB | 100% | lossless | yes | 40 | 9 |
| ir_left | PNG 1 | 0.643 MB | 102% | lossless | yes | 25 | 8 |
| ir_left | PNG 6 | 0.619 MB | 98% | lossless | yes | 83 | 8 |
| ir_left | PNG 9 | 0.614 MB | 98% | lossless | yes | 185 | 9 |
| ir_left | WebP lossless | 0.439 MB | 89% | lossless; 8-bit samples only (no 16-bit WebP) | yes | 415 | 9 |
| ir_right | PNG 3 (today) | 0.632 MB | 100% | lossless | yes | 33 | 8 |
| ir_right | PNG 1 | 0.645 MB | 102% | lossless | yes | 24 | 9 |
| ir_right | PNG 6 | 0.622 MB | 98% | lossless | yes | 87 | 9 |
| ir_right | PNG 9 | 0.617 MB | 98% | lossless | yes | 172 | 8 |
| ir_right | WebP lossless | 0.442 MB | 89% | lossless; 8-bit samples only (no 16-bit WebP) | yes | 413 | 9 |
| depth_ir | EXR ZIP float32 (today) | 2.221 MB | 100% | exact | yes | 31 | 7 |
| depth_ir | EXR NO float32 | 2.777 MB | 125% | exact | yes | 2 | 1 |
| depth_ir | EXR ZIPS float32 | 2.692 MB | 121% | exact | yes | 21 | 10 |
| depth_ir | EXR PIZ float32 | 1.891 MB | 85% | exact | yes | 73 | 17 |
| depth_ir | EXR PXR24 float32 | 0.226 MB | 10% | 3.05e-05 m, rel 1.5e-05 | yes | 8 | 2 |
| depth_ir | EXR B44 float32 | 2.765 MB | 125% | exact | yes | 1 | 0 |
| depth_ir | EXR DWAA float32 | 0.081 MB | 4% | 7.03e-02 m, rel 2.2e-02 | no | 14 | 2 |
| depth_ir | EXR ZIP half | 0.103 MB | 5% | 9.77e-04 m, rel 4.9e-04 | no | 8 | 3 |
| depth_ir | EXR PIZ half | 0.249 MB | 11% | 9.77e-04 m, rel 4.9e-04 | no | 12 | 5 |
| depth_ir | EXR B44 half | 0.605 MB | 27% | 5.93e-02 m, rel 5.1e-02 | no | 4 | 2 |
| depth_ir | EXR DWAA half | 0.081 MB | 4% | 7.03e-02 m, rel 2.2e-02 | no | 14 | 2 |
| depth_rgb | EXR ZIP float32 (today) | 3.665 MB | 100% | exact | yes | 46 | 12 |
| depth_rgb | EXR NO float32 | 4.931 MB | 135% | exact | yes | 3 | 3 |
| depth_rgb | EXR ZIPS float32 | 4.642 MB | 127% | exact | yes | 36 | 18 |
| depth_rgb | EXR PIZ float32 | 3.139 MB | 86% | exact | yes | 111 | 26 |
| depth_rgb | EXR PXR24 float32 | 0.328 MB | 9% | 3.05e-05 m, rel 1.5e-05 | yes | 13 | 2 |
| depth_rgb | EXR B44 float32 | 4.916 MB | 134% | exact | yes | 1 | 0 |
| depth_rgb | EXR DWAA float32 | 0.123 MB | 3% | 7.06e-02 m, rel 2.3e-02 | no | 20 | 3 |
| depth_rgb | EXR ZIP half | 0.149 MB | 4% | 9.77e-04 m, rel 4.9e-04 | no | 11 | 4 |
| depth_rgb | EXR PIZ half | 0.381 MB | 10% | 9.77e-04 m, rel 4.9e-04 | no | 16 | 7 |
| depth_rgb | EXR B44 half | 1.076 MB | 29% | 3.97e-02 m, rel 4.3e-02 | no | 6 | 3 |
| depth_rgb | EXR DWAA half | 0.123 MB | 3% | 7.06e-02 m, rel 2.3e-02 | no | 20 | 4 |
| disparity | EXR ZIP float32 (today) | 1.332 MB | 100% | exact | yes | 20 | 5 |
| disparity | EXR NO float32 | 2.777 MB | 208% | exact | yes | 1 | 1 |
| disparity | EXR ZIPS float32 | 2.440 MB | 183% | exact | yes | 20 | 10 |
| disparity | EXR PIZ float32 | 1.605 MB | 120% | exact | yes | 45 | 13 |
| disparity | EXR PXR24 float32 | 0.098 MB | 7% | 1.95e-03 px, rel 1.5e-05 | no | 6 | 1 |
| disparity | EXR B44 float32 | 2.765 MB | 208% | exact | yes | 1 | 0 |
| disparity | EXR DWAA float32 | 0.106 MB | 8% | 2.55e+00 px, rel 2.1e-02 | no | 13 | 2 |
| disparity | EXR ZIP half | 0.072 MB | 5% | 6.25e-02 px, rel 4.9e-04 | no | 6 | 2 |
| disparity | EXR PIZ half | 0.253 MB | 19% | 6.25e-02 px, rel 4.9e-04 | no | 9 | 4 |
| disparity | EXR B44 half | 0.605 MB | 45% | 4.13e+00 px, rel 4.5e-02 | no | 4 | 2 |
| disparity | EXR DWAA half | 0.106 MB | 8% | 2.55e+00 px, rel 2.1e-02 | no | 14 | 2 |
| disparity | dropped: fx*b/z of float32 depth_ir on decode | 0.000 MB | 0% | 7.6e-06 px vs fx*b/z of decoded z; 0.0e+00 px vs rendered disparity | yes | 0 | 1 |
| disparity | dropped: fx*b/z of PXR24 depth_ir on decode | 0.000 MB | 0% | 7.6e-06 px vs fx*b/z of decoded z; 3.2e-03 px vs rendered disparity | yes | 0 | 1 |
| material | PNG 3 (today) | 0.009 MB | 100% | lossless | yes | 4 | 1 |
| material | PNG 1 | 0.010 MB | 105% | lossless | yes | 4 | 1 |
| material | PNG 6 | 0.006 MB | 60% | lossless | yes | 5 | 2 |
| material | PNG 9 | 0.004 MB | 45% | lossless | yes | 14 | 1 |
| material_rgb | PNG 3 (today) | 0.014 MB | 100% | lossless | yes | 6 | 2 |
| material_rgb | PNG 1 | 0.015 MB | 104% | lossless | yes | 7 | 2 |
| material_rgb | PNG 6 | 0.008 MB | 55% | lossless | yes | 8 | 3 |
| material_rgb | PNG 9 | 0.006 MB | 42% | lossless | yes | 22 | 3 |
| instance | PNG 3 (today) | 0.014 MB | 100% | lossless | yes | 7 | 2 |
| instance | PNG 1 | 0.015 MB | 104% | lossless | yes | 7 | 2 |
| instance | PNG 6 | 0.007 MB | 52% | lossless | yes | 9 | 4 |
| instance | PNG 9 | 0.006 MB | 41% | lossless | yes | 22 | 4 |
| instance_rgb | PNG 3 (today) | 0.022 MB | 100% | lossless | yes | 13 | 4 |
| instance_rgb | PNG 1 | 0.022 MB | 103% | lossless | yes | 13 | 4 |
| instance_rgb | PNG 6 | 0.010 MB | 48% | lossless | yes | 16 | 7 |
| instance_rgb | PNG 9 | 0.009 MB | 40% | lossless | yes | 36 | 7 |
| meta | JSON (today) | 0.004 MB | 100% | exact | yes | 0 | 0 |

| format | MB/sample (min-max) | encode ms/sample | decode ms/sample |
|---|---|---:|---:|
| before (PNG 3, EXR ZIP float32, disparity stored) | 9.47 (8.41-10.29) | 263 | 67 |
| chosen (synth/schema.py now) | 2.78 (2.20-3.36) | 201 | 56 |

Chosen (synth/schema.py, ``Field.codec``): depth_ir and depth_rgb EXR PXR24 float32 (max error 1.5e-5
relative, 3e-5 m here; zeros exact), disparity not stored (``schema.derive_fields``: fx*b/z of the
decoded depth_ir, float32, 0 at z = 0), rgb/IR PNG level 3 (level 6 would save 0.1 MB of RGB for
~+100 ms of encode per sample), label maps PNG level 6, meta JSON; all lossless except the depth
rounding. A disparity derived from PXR24 depth is within 7.6e-6 px of fx*b/z of the stored depth and
3.2e-3 px (1.5e-5 relative, max disparity here 218 px) of the disparity the renderer computed from the
float32 depth. OpenCV (OPENCV_IO_ENABLE_OPENEXR=1) reads the EXRs (channel ``Y``) identically to OpenEXR.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # to check that OpenCV reads the chosen EXRs
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import OpenEXR  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synth import schema  # noqa: E402

DEPTH_ABS_M = 1e-4
DEPTH_REL = 2e-5
DISP_PX = 1e-3
LEGACY_PNG_LEVEL = 3  # what schema.encode_png used before issue 12
EXR = {name: getattr(OpenEXR, f"{name}_COMPRESSION") for name in
       ("NO", "ZIP", "ZIPS", "PIZ", "PXR24", "B44", "DWAA")}
IMAGE_FIELDS = ("rgb", "ir_left", "ir_right", "material", "material_rgb", "instance", "instance_rgb")
DEPTH_FIELDS = ("depth_ir", "depth_rgb")
FIELD_ORDER = ("rgb", "ir_left", "ir_right", "depth_ir", "depth_rgb", "disparity", "material",
               "material_rgb", "instance", "instance_rgb", "meta")


# ---------------------------------------------------------------- data


def load_samples(data: Path, limit: int) -> tuple[list[dict], float]:
    """Raw stored members of up to ``limit`` samples: [{field: bytes}], and mean tar bytes per sample."""
    shards = sorted(p for p in Path(data).rglob("*.tar") if ".tmp" not in p.parts)
    samples: dict[str, dict] = {}
    tar_bytes = 0
    for path in shards:
        tar_bytes += path.stat().st_size
        with tarfile.open(path, "r:") as tar:
            for m in tar:
                if m.isfile():
                    key, _, rest = m.name.partition(".")
                    samples.setdefault(key, {})[rest.rsplit(".", 1)[0]] = tar.extractfile(m).read()
    n_all = len(samples)
    keys = sorted(samples)[:limit]
    return [samples[k] | {"__key__": k} for k in keys], (tar_bytes / n_all if n_all else 0.0)


def ensure_data(args) -> None:
    if any(p for p in Path(args.data).rglob("*.tar") if ".tmp" not in p.parts):
        return
    cmd = [sys.executable, str(ROOT / "cli.py"), "render", "--scenes", str(args.scenes), "--samples",
           str(args.samples), "--quality", "default", "--seed", str(args.seed), "--out", str(args.data),
           "--no-progress"]
    print("rendering:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)


# ---------------------------------------------------------------- codecs


def png_enc(level: int):
    def enc(a):
        if a.ndim == 3:
            a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".png", a, [cv2.IMWRITE_PNG_COMPRESSION, level])
        assert ok
        return buf.tobytes()
    return enc


def img_dec(data: bytes) -> np.ndarray:
    a = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(a, cv2.COLOR_BGR2RGB) if a.ndim == 3 else a


def lossy_enc(ext: str, flag: int, q: int):
    def enc(a):
        ok, buf = cv2.imencode(ext, cv2.cvtColor(a, cv2.COLOR_RGB2BGR), [flag, q])
        assert ok
        return buf.tobytes()
    return enc


def webp_lossless_enc(a):
    b = cv2.cvtColor(a, cv2.COLOR_RGB2BGR) if a.ndim == 3 else a
    ok, buf = cv2.imencode(".webp", b, [cv2.IMWRITE_WEBP_QUALITY, 101])  # > 100 = lossless
    assert ok
    return buf.tobytes()


def webp_dec(data: bytes) -> np.ndarray:
    a = img_dec(data)
    return a


def exr_enc(compression: str, half: bool):
    def enc(a):
        arr = np.ascontiguousarray(a, dtype=np.float16 if half else np.float32)
        header = {"compression": EXR[compression], "type": OpenEXR.scanlineimage}
        buf = io.BytesIO()
        OpenEXR.File(header, {schema.EXR_CHANNEL: arr}).write(buf)
        return buf.getvalue()
    return enc


def exr_dec(data: bytes) -> np.ndarray:
    return schema.decode_exr(data)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def disparity_ref(depth: np.ndarray, meta: dict) -> np.ndarray:
    """fx*b/z in float64 from the rendered float32 depth (0 where z == 0), as synth/rig.py does."""
    z = depth.astype(np.float64)
    d = np.zeros_like(z)
    ok = z > 0
    d[ok] = float(meta["K_ir"][0][0]) * float(meta["baseline_m"]) / z[ok]
    return d


def timed(fn, *a, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*a)
        best = min(best, time.perf_counter() - t)
    return out, best * 1e3


# ---------------------------------------------------------------- options


def options() -> list[tuple[str, str, object, object]]:
    """(field, option label, encoder, decoder); the first option of a field is today's format."""
    opts = []
    for f in IMAGE_FIELDS:
        opts.append((f, f"PNG {LEGACY_PNG_LEVEL} (today)", png_enc(LEGACY_PNG_LEVEL), img_dec))
        for lvl in (1, 6, 9):
            opts.append((f, f"PNG {lvl}", png_enc(lvl), img_dec))
    for f in ("rgb", "ir_left", "ir_right"):
        opts.append((f, "WebP lossless", webp_lossless_enc, webp_dec))  # 8-bit only; skipped for uint16
    for q in (95, 90):
        opts.append(("rgb", f"JPEG q{q}", lossy_enc(".jpg", cv2.IMWRITE_JPEG_QUALITY, q), img_dec))
    for q in (95, 90):
        opts.append(("rgb", f"WebP q{q}", lossy_enc(".webp", cv2.IMWRITE_WEBP_QUALITY, q), img_dec))
    for f in DEPTH_FIELDS + ("disparity",):
        opts.append((f, "EXR ZIP float32 (today)", exr_enc("ZIP", False), exr_dec))
        for c in ("NO", "ZIPS", "PIZ", "PXR24", "B44", "DWAA"):
            opts.append((f, f"EXR {c} float32", exr_enc(c, False), exr_dec))
        for c in ("ZIP", "PIZ", "B44", "DWAA"):
            opts.append((f, f"EXR {c} half", exr_enc(c, True), exr_dec))
    opts.append(("disparity", "dropped: fx*b/z of float32 depth_ir on decode", None, None))
    opts.append(("disparity", "dropped: fx*b/z of PXR24 depth_ir on decode", exr_enc("PXR24", False), None))
    opts.append(("meta", "JSON (today)", lambda m: schema.encode_field("meta", m), json.loads))
    return opts


def measure(samples: list[dict], repeat: int) -> dict:
    decoded = []
    for s in samples:
        d = {f: schema.decode_field(f, b) for f, b in s.items() if not f.startswith("__")}
        if "disparity" not in d:  # a new-format dataset: the rendered disparity is derived, as rig.py
            d["disparity"] = disparity_ref(d["depth_ir"], d["meta"]).astype(np.float32)
        decoded.append(d)
    rows: dict[tuple[str, str], dict] = {}
    for field, label, enc, dec in options():
        acc = {"bytes": [], "enc": [], "dec": [], "err": [], "rel": [], "ok": True, "psnr": [], "note": "",
               "idx": []}
        for i, d in enumerate(decoded):
            ref = d[field]
            if field == "disparity" and dec is None:
                # derived on decode from depth_ir (stored with ``enc``, or float32 when None), timed as
                # schema.derive_fields does it; checked against fx*b/z of the decoded depth (the
                # requirement) and, for information, against the rendered disparity
                depth = d["depth_ir"] if enc is None else exr_dec(enc(d["depth_ir"]))
                got, ms = timed(schema.disparity_from_depth, depth, d["meta"], repeat=repeat)
                acc["bytes"].append(0)
                acc["idx"].append(i)
                acc["enc"].append(0.0)
                acc["dec"].append(ms)
                err = np.abs(got.astype(np.float64) - disparity_ref(depth, d["meta"]))
                acc["err"].append(float(err.max()))
                acc["vs_rendered"] = max(acc.get("vs_rendered", 0.0),
                                         float(np.abs(got.astype(np.float64) - ref).max()))
                acc["ok"] &= bool(err.max() <= DISP_PX) and bool((got[depth == 0] == 0).all())
                continue
            if isinstance(ref, np.ndarray) and label.startswith("WebP lossless") and ref.dtype != np.uint8:
                acc["note"] = "8-bit samples only (no 16-bit WebP)"
                continue
            data, ems = timed(enc, ref, repeat=repeat)
            got, dms = timed(dec, data, repeat=repeat)
            acc["bytes"].append(len(data))
            acc["idx"].append(i)
            acc["enc"].append(ems)
            acc["dec"].append(dms)
            if field == "meta":
                acc["ok"] &= got == json.loads(json.dumps(ref))
                continue
            if field in DEPTH_FIELDS or field == "disparity":
                r = ref.astype(np.float64)
                g = got.astype(np.float64)
                err = np.abs(g - r)
                rel = np.where(r > 0, err / np.maximum(r, 1e-30), 0.0)
                acc["err"].append(float(err.max()))
                acc["rel"].append(float(rel.max()))
                if field == "disparity":
                    acc["ok"] &= bool(err.max() <= DISP_PX)
                else:
                    acc["ok"] &= bool((err <= np.maximum(DEPTH_ABS_M, DEPTH_REL * r)).all())
                    acc["ok"] &= bool((g[r == 0] == 0).all())
            else:
                got = got.reshape(ref.shape) if got.size == ref.size else got
                if ref.ndim == 2 and got.ndim == 3:  # WebP decodes grey as BGR
                    got = got[..., 0]
                same = got.shape == ref.shape and np.array_equal(got, ref)
                acc["ok"] &= bool(same)
                if not same:
                    acc["psnr"].append(psnr(ref, got))
                    acc["err"].append(float(np.abs(got.astype(np.int64) - ref.astype(np.int64)).max()))
        rows[(field, label)] = acc
    return rows


def derived_disparity_check(samples: list[dict], depth_codec: tuple[str, bool]) -> dict:
    """Disparity derived from a depth_ir stored with ``depth_codec`` vs the rendered disparity."""
    out = {"max_err_vs_rendered_px": 0.0, "max_err_vs_fxb_over_decoded_z_px": 0.0, "max_disp_px": 0.0}
    for s in samples:
        meta = json.loads(s["meta"])
        depth = schema.decode_field("depth_ir", s["depth_ir"])
        rendered = (schema.decode_field("disparity", s["disparity"]) if "disparity" in s
                    else disparity_ref(depth, meta).astype(np.float32))
        z = exr_dec(exr_enc(*depth_codec)(depth))
        derived = schema.derive_fields({"depth_ir": z, "meta": meta})["disparity"]
        out["max_err_vs_rendered_px"] = max(out["max_err_vs_rendered_px"],
                                            float(np.abs(derived.astype(np.float64) - rendered).max()))
        out["max_err_vs_fxb_over_decoded_z_px"] = max(
            out["max_err_vs_fxb_over_decoded_z_px"], float(np.abs(derived - disparity_ref(z, meta)).max()))
        out["max_disp_px"] = max(out["max_disp_px"], float(rendered.max()))
    return out


def chosen(samples: list[dict], repeat: int) -> dict:
    """Bytes and encode/decode ms per sample of the format synth/schema.py writes now."""
    tot = {"bytes": [], "enc": [], "dec": [], "fields": {}}
    for s in samples:
        d = {f: schema.decode_field(f, b) for f, b in s.items() if not f.startswith("__")}
        nb, ems, dms = 0, 0.0, 0.0
        members = {"__key__": s["__key__"]}
        for f, v in d.items():
            if f in schema.DERIVED_FIELDS:
                continue
            data, ms = timed(schema.encode_field, f, v, repeat=repeat)
            members[f"{f}.{schema.EXTENSIONS[f]}"] = data
            nb += len(data)
            ems += ms
            tot["fields"].setdefault(f, []).append(len(data))
        _, dms = timed(schema.decode_sample, members, repeat=repeat)
        tot["bytes"].append(nb)
        tot["enc"].append(ems)
        tot["dec"].append(dms)
    return tot


def legacy(samples: list[dict], repeat: int) -> dict:
    """Today's format, re-encoded with the pre-issue-12 settings (PNG level 3, ZIP float32, disparity)."""
    tot = {"bytes": [], "enc": [], "dec": []}
    png3, zipf = png_enc(LEGACY_PNG_LEVEL), exr_enc("ZIP", False)
    for s in samples:
        d = {f: schema.decode_field(f, b) for f, b in s.items() if not f.startswith("__")}
        if "disparity" not in d:
            d["disparity"] = disparity_ref(d["depth_ir"], d["meta"]).astype(np.float32)
        nb, ems, dms = 0, 0.0, 0.0
        for f, v in d.items():
            enc = (lambda m: schema.encode_field("meta", m)) if f == "meta" else \
                zipf if schema.FIELDS[f].ext == "exr" else png3
            data, ms = timed(enc, v, repeat=repeat)
            _, dm = timed(schema.decode_field, f, data, repeat=repeat)
            nb, ems, dms = nb + len(data), ems + ms, dms + dm
        tot["bytes"].append(nb)
        tot["enc"].append(ems)
        tot["dec"].append(dms)
    return tot


# ---------------------------------------------------------------- report


def fmt_err(field: str, acc: dict) -> str:
    if field == "meta":
        return "exact" if acc["ok"] else "differs"
    if "vs_rendered" in acc:
        return (f"{max(acc['err']):.1e} px vs fx*b/z of decoded z; "
                f"{acc['vs_rendered']:.1e} px vs rendered disparity")
    if field in DEPTH_FIELDS or field == "disparity":
        e = max(acc["err"]) if acc["err"] else 0.0
        if e == 0:
            return "exact"
        unit = "px" if field == "disparity" else "m"
        rel = f", rel {max(acc['rel']):.1e}" if acc["rel"] else ""
        return f"{e:.2e} {unit}{rel}"
    if acc["psnr"]:
        return f"PSNR {min(acc['psnr']):.1f} dB (max err {max(acc['err']):.0f})"
    return "lossless"


def table(rows: dict, n: int) -> str:
    out = ["| field | option | bytes/sample | vs today | max error after decode | meets req. | enc ms | dec ms |",
           "|---|---|---:|---:|---|:-:|---:|---:|"]
    today: dict[str, dict] = {}
    for field in FIELD_ORDER:
        for (f, label), acc in rows.items():
            if f != field or not acc["bytes"]:
                continue
            b = float(np.mean(acc["bytes"]))
            per_sample = dict(zip(acc["idx"], acc["bytes"]))
            today.setdefault(f, per_sample)
            base = sum(today[f][i] for i in acc["idx"])  # today's bytes of the same samples
            vs = f"{sum(acc['bytes']) / base:.0%}" if base else ""
            err = fmt_err(f, acc) + (f"; {acc['note']}" if acc["note"] else "")
            out.append(f"| {f} | {label} | {b / 1e6:.3f} MB | {vs} | {err} | "
                       f"{'yes' if acc['ok'] else 'no'} | {np.mean(acc['enc']):.0f} | {np.mean(acc['dec']):.0f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\nResults")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/tmp/lbd_bytes/raw"),
                    help="dataset directory to read (rendered there first if it holds no shard)")
    ap.add_argument("--scenes", type=int, default=2)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--limit", type=int, default=4, help="samples measured")
    ap.add_argument("--repeat", type=int, default=1, help="best of N for encode/decode timings")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    ensure_data(args)
    samples, tar_per_sample = load_samples(args.data, args.limit)
    if not samples:
        raise SystemExit(f"no samples under {args.data}")
    meta0 = json.loads(samples[0]["meta"])
    print(f"{len(samples)} samples from {args.data}: IR {meta0.get('ir_size_hw')}, RGB {meta0.get('rgb_size_hw')}, "
          f"quality {meta0.get('render', {}).get('quality', {}).get('name', '?')}, "
          f"{tar_per_sample / 1e6:.2f} MB per sample in the stored tar shards\n")
    rows = measure(samples, args.repeat)
    print(table(rows, len(samples)))
    old = legacy(samples, args.repeat)
    new = chosen(samples, args.repeat)
    print()
    for label, depth_codec in (("PXR24 float32", ("PXR24", False)), ("ZIP float32", ("ZIP", False))):
        c = derived_disparity_check(samples, depth_codec)
        print(f"disparity derived from depth_ir stored as {label}: max |d - rendered| = "
              f"{c['max_err_vs_rendered_px']:.2e} px, max |d - fx*b/z_decoded| = "
              f"{c['max_err_vs_fxb_over_decoded_z_px']:.2e} px (max disparity {c['max_disp_px']:.0f} px)")
    print()
    fields = ", ".join(f"{f} {np.mean(b) / 1e6:.2f}" for f, b in new["fields"].items())
    print(f"| format | MB/sample (min-max) | encode ms/sample | decode ms/sample |\n|---|---|---:|---:|\n"
          f"| before (PNG 3, EXR ZIP float32, disparity stored) | {np.mean(old['bytes']) / 1e6:.2f} "
          f"({min(old['bytes']) / 1e6:.2f}-{max(old['bytes']) / 1e6:.2f}) | {np.mean(old['enc']):.0f} | "
          f"{np.mean(old['dec']):.0f} |\n"
          f"| chosen (synth/schema.py now) | {np.mean(new['bytes']) / 1e6:.2f} "
          f"({min(new['bytes']) / 1e6:.2f}-{max(new['bytes']) / 1e6:.2f}) | {np.mean(new['enc']):.0f} | "
          f"{np.mean(new['dec']):.0f} |")
    print(f"\nchosen format per field (MB): {fields}")
    s = samples[0]
    z = schema.decode_field("depth_rgb", s["depth_rgb"])
    data = schema.encode_field("depth_rgb", z)
    cv = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    print(f"OpenCV reads the chosen depth EXR ({schema.FIELDS['depth_rgb'].codec}): "
          f"max |cv2.imdecode - schema.decode_field| = {np.abs(cv - schema.decode_exr(data)).max():.1e} m")
    print(f"BYTES_PER_SAMPLE default (for synth/quality.py, + tar headers): "
          f"{int(np.mean(new['bytes']) + 512 * 2 * len(new['fields']))}")


if __name__ == "__main__":
    main()
