"""Schema codecs: round trips within the issue-12 bounds, derived disparity, old-format EXRs, decode_sample."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import OpenEXR
import pytest
from conftest import make_sample

from synth import schema

DEPTH_ABS_M, DEPTH_REL, DISP_PX = 1e-4, 2e-5, 1e-3


def realistic_depth(rng, hw=(48, 64)) -> np.ndarray:
    """Planar z over 0.1-20 m (log-uniform, plus a smooth ramp) with holes (0)."""
    h, w = hw
    z = np.exp(rng.uniform(np.log(0.1), np.log(20.0), hw))
    z[: h // 2] = np.linspace(0.1, 20.0, (h // 2) * w).reshape(h // 2, w)
    z[rng.random(hw) < 0.1] = 0.0
    z[0, :4] = [0.1, 5.0, 19.999, 20.0]
    return z.astype(np.float32)


def exr_compression(data: bytes):
    return OpenEXR.File(io.BytesIO(data)).header()["compression"]


def meta(fx=612.3, b=0.137) -> dict:
    return {"K_ir": [[fx, 0, 32], [0, fx, 24], [0, 0, 1]], "baseline_m": b}


def test_every_field_round_trips_within_bounds(rng):
    sample = make_sample("k", rng, ir_hw=(48, 64), rgb_hw=(60, 80), sensor=True)
    sample["depth_ir"] = realistic_depth(rng, (48, 64))
    sample["depth_rgb"] = realistic_depth(rng, (60, 80))
    sample["ir_left"] = rng.integers(0, 256, (48, 64), dtype=np.uint8)  # 8-bit IR too
    for name in schema.FIELDS:
        ref = sample[name]
        data = schema.encode_field(name, ref)
        got = schema.decode_field(name, data)
        assert got.dtype == ref.dtype and got.shape == ref.shape, name
        if schema.FIELDS[name].gt_depth:
            r, g = ref.astype(np.float64), got.astype(np.float64)
            assert (np.abs(g - r) <= np.maximum(DEPTH_ABS_M, DEPTH_REL * r)).all(), name
            assert (g[r == 0] == 0).all() and (g[r > 0] > 0).all(), name
            assert exr_compression(data) == OpenEXR.PXR24_COMPRESSION
        else:
            assert np.array_equal(got, ref), f"{name} must be lossless"  # IR, RGB, masks, sensor
    assert schema.decode_field("meta", schema.encode_field("meta", sample["meta"])) == \
        json.loads(json.dumps(sample["meta"]))


def test_derived_disparity_is_fxb_over_z(rng):
    z = realistic_depth(rng)
    m = meta()
    stored = schema.decode_field("depth_ir", schema.encode_field("depth_ir", z))
    d = schema.derive_fields({"depth_ir": stored, "meta": m})["disparity"]
    assert d.dtype == np.float32 and d.shape == z.shape
    fxb = m["K_ir"][0][0] * m["baseline_m"]
    ok = stored > 0
    assert np.abs(d[ok] - fxb / stored[ok].astype(np.float64)).max() <= DISP_PX
    assert (d[~ok] == 0).all() and (d[ok] > 0).all()
    # from a float32 depth: bit-identical to what the renderer stored (synth.rig.Rig.disparity_from_depth)
    rig_d = np.zeros(z.shape)
    rig_d[z > 0] = fxb / z[z > 0].astype(np.float64)
    assert schema.disparity_from_depth(z, m).tobytes() == rig_d.astype(np.float32).tobytes()


def test_derive_fields_keeps_stored_and_respects_wanted(rng):
    z = realistic_depth(rng)
    stored = np.full(z.shape, 7.0, np.float32)
    s = schema.derive_fields({"depth_ir": z, "meta": meta(), "disparity": stored})
    assert s["disparity"] is stored  # an old shard's stored disparity wins
    assert "disparity" not in schema.derive_fields({"depth_ir": z, "meta": meta()}, wanted={"rgb"})
    assert "disparity" in schema.derive_fields({"depth_ir": z, "meta": meta()}, wanted={"disparity"})
    assert "disparity" not in schema.derive_fields({"meta": meta()})  # no source: left out
    with pytest.raises(schema.SchemaError, match="disparity"):
        schema.derive_fields({"depth_ir": z, "meta": {"baseline_m": 0.1}})


def test_old_zip_float32_exr_with_z_channel_still_decodes(rng):
    z = realistic_depth(rng)
    buf = io.BytesIO()  # exactly what format version 1 wrote
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, {"Z": z}).write(buf)
    for name in ("depth_ir", "disparity", "sensor_disparity"):
        assert schema.decode_field(name, buf.getvalue()).tobytes() == z.tobytes()
    half = io.BytesIO()  # any pixel type / compression reads
    OpenEXR.File({"compression": OpenEXR.PIZ_COMPRESSION, "type": OpenEXR.scanlineimage},
                 {"Y": z.astype(np.float16)}).write(half)
    assert np.array_equal(schema.decode_exr(half.getvalue()), z.astype(np.float16).astype(np.float32))
    assert exr_compression(schema.encode_exr(z)) == OpenEXR.ZIP_COMPRESSION  # lossless default
    assert schema.decode_exr(schema.encode_exr(z)).tobytes() == z.tobytes()


def test_decode_sample_webdataset_members(rng):
    sample = make_sample("s00001-v000002", rng, ir_hw=(24, 32), rgb_hw=(30, 40))
    sample["depth_ir"] = realistic_depth(rng, (24, 32))
    members = {"__key__": sample["__key__"], "__url__": "shard.tar"}
    for name in schema.STORED_RAW_FIELDS + ("meta", "material_rgb", "instance_rgb"):
        members[f"{name}.{schema.EXTENSIONS[name]}"] = schema.encode_field(name, sample[name])
    assert "disparity.exr" not in members
    out = schema.decode_sample(members)
    assert out["__key__"] == sample["__key__"] and out["__url__"] == "shard.tar"
    assert set(schema.RAW_FIELDS) <= set(out) and isinstance(out["meta"], dict)
    assert np.array_equal(out["rgb"], sample["rgb"])
    assert np.array_equal(out["disparity"], schema.disparity_from_depth(out["depth_ir"], out["meta"]))
    assert schema.validate_sample(out) == []
    part = schema.decode_sample(members, wanted={"rgb", "disparity"})
    assert set(part) == {"__key__", "__url__", "rgb", "disparity", "meta"}  # depth_ir decoded, not kept
    old = dict(members, **{"disparity.exr": schema.encode_exr(np.ones((24, 32), np.float32))})
    assert (schema.decode_sample(old)["disparity"] == 1).all()  # stored disparity of old shards wins


def test_validate_sample_with_or_without_disparity(rng):
    sample = make_sample("k", rng)
    assert schema.validate_sample(sample) == []
    sample.pop("disparity")
    assert schema.validate_sample(sample) == []  # derivable: fine on write
    sample.pop("depth_ir")
    assert "missing field 'disparity'" in schema.validate_sample(sample)
    assert "missing field 'depth_ir'" in schema.validate_sample(sample)


def test_opencv_reads_the_depth_exr(rng, tmp_path):
    z = realistic_depth(rng)
    path = tmp_path / "d.exr"
    path.write_bytes(schema.encode_field("depth_rgb", z))
    code = ("import cv2, numpy as np, sys; a = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED); "
            "np.save(sys.argv[2], a)")
    subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "a.npy")], check=True,
                   env={"OPENCV_IO_ENABLE_OPENEXR": "1", "PATH": "/usr/bin:/bin"})
    assert np.array_equal(np.load(tmp_path / "a.npy"), schema.decode_field("depth_rgb", path.read_bytes()))
