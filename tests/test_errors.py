"""Bad input across commands (patterns, sgm-pair, complete, eval, train, realism, scenes): an unwritable output
folder, a full disk, a device this torch lacks, a corrupt checkpoint. Each case: the exit code, one line
naming the option or file (no traceback), nothing computed when the output cannot be written, and nothing
already written changed."""
from __future__ import annotations

import errno
import pathlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli import cli
from mdm.checkpoint import save_checkpoint
from mdm.model import build_model, model_config
from mdm.synthetic import render_scene
from sgm.synthetic import shifted_pair

OLD = b"an earlier output"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def error_line(res) -> str:
    """The one line a user error prints (and that there is exactly one, and no traceback)."""
    text = res.output.strip()
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), text
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """An untrained tiny checkpoint, a 64x80 RGB-D frame, an IR pair, a corrupt checkpoint."""
    root = tmp_path_factory.mktemp("errors")
    model = build_model(model_config("tiny", tokens=12))
    save_checkpoint(root / "tiny.pt", {"model_config": model.cfg.to_dict(), "model": model.state_dict()})
    scene = render_scene((64, 80), np.random.default_rng(1))
    cv2.imwrite(str(root / "rgb.png"), cv2.cvtColor(scene["rgb"], cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / "depth.png"), scene["sensor"])
    left, right = shifted_pair(96, 48, 6.0, seed=3)
    cv2.imwrite(str(root / "left.png"), left)
    cv2.imwrite(str(root / "right.png"), right)
    good = (root / "tiny.pt").read_bytes()
    (root / "corrupt.pt").write_bytes(good[: len(good) // 3])
    (root / "a_file").write_bytes(OLD)
    return {"root": root, "ckpt": root / "tiny.pt", "rgb": root / "rgb.png", "depth": root / "depth.png",
            "left": root / "left.png", "right": root / "right.png", "corrupt": root / "corrupt.pt",
            "a_file": root / "a_file"}


def command(name: str, f: dict[str, Path], out: Path) -> list:
    """Arguments of a small run of ``name`` writing to ``out``."""
    return {
        "patterns": ["patterns", "--height", "32", "--width", "32", "--out", out / "p.png"],
        "sgm-pair": ["sgm-pair", f["left"], f["right"], "--max-disparity", "16", "--out", out / "d.npy"],
        "complete": ["complete", "--ckpt", f["ckpt"], "--rgb", f["rgb"], "--depth", f["depth"], "--out", out / "c.png"],
        "eval": ["eval", "--ckpt", f["ckpt"], "--data", f["root"], "--out", out],
        "train": ["train", "--data", f["root"], "--out", out, "--steps", "1"],
        "realism": ["realism", f["root"], "--out", out],
        "scenes": ["scenes", "--scenes", "1", "--out", out],
    }[name]


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if complete's model or sgm-pair's matcher runs."""
    import mdm.complete
    import sgm

    def forbidden(*args, **kwargs):
        raise AssertionError("computed before checking the output")

    monkeypatch.setattr(mdm.complete, "load_model", forbidden)
    monkeypatch.setattr(sgm, "match", forbidden)


ALL = ["patterns", "sgm-pair", "complete", "eval", "train", "realism", "scenes"]


@pytest.mark.parametrize("name", ALL)
def test_output_below_a_file_is_one_line_before_any_work(name, files, no_compute):
    out = files["a_file"] / "sub"  # a folder that cannot exist: its parent is a file
    res = invoke(*command(name, files, out))
    assert res.exit_code == 1, res.output
    line = error_line(res)
    assert "--out" in line and "a_file" in line and "Not a directory" in line
    assert files["a_file"].read_bytes() == OLD


@pytest.mark.parametrize("name", ALL)
def test_permission_denied_output_folder(name, files, no_compute, monkeypatch, tmp_path):
    """As root chmod does not stop writes, so the folder's refusal is simulated at the write call."""
    real = pathlib.Path.write_bytes

    def denied(self, data):
        if self.parent == tmp_path / "ro" or (tmp_path / "ro") in self.parents:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", denied)
    res = invoke(*command(name, files, tmp_path / "ro"))
    assert res.exit_code == 1, res.output
    line = error_line(res)
    assert "--out" in line and "permission denied" in line and str(tmp_path / "ro") in line


def _full_disk():
    def write(path, data):
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    return write


@pytest.mark.parametrize("name,module", [("complete", "mdm.complete"), ("sgm-pair", "sgm.commands")])
def test_full_disk_keeps_the_previous_output_and_leaves_no_partial_file(name, module, files, monkeypatch, tmp_path):
    import lbd.files

    out = tmp_path / "out"
    out.mkdir()
    target = out / ("c.png" if name == "complete" else "d.npy")
    target.write_bytes(OLD)
    monkeypatch.setattr(lbd.files, "_write_synced", _full_disk())
    res = invoke(*command(name, files, out))
    assert res.exit_code == 1, res.output
    line = error_line(res)
    assert "--out" in line and "no space left" in line and target.name in line
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in out.iterdir()) == [target.name]


def test_full_disk_patterns_and_scenes(files, monkeypatch, tmp_path):
    import lbd.files

    out = tmp_path / "pat"
    out.mkdir()
    (out / "p.png").write_bytes(OLD)
    with monkeypatch.context() as m:
        m.setattr(lbd.files, "_write_synced", _full_disk())
        res = invoke(*command("patterns", files, out))
    assert res.exit_code == 1 and "no space left" in error_line(res) and "p.png" in error_line(res)
    assert (out / "p.png").read_bytes() == OLD and sorted(p.name for p in out.iterdir()) == ["p.png"]

    import scenes.commands

    def no_space(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(scenes.commands, "write_text_atomic", no_space)
    res = invoke("scenes", "--scenes", "3", "--out", tmp_path / "sc")
    assert res.exit_code == 1, res.output
    line = res.output.strip().splitlines()[-1]
    assert "Traceback" not in res.output and line.startswith("Error: --out") and "no space left" in line
    assert "scene_000000.json" in line  # the batch stops at the first write


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without CUDA")
@pytest.mark.parametrize("name", ["sgm-pair", "complete", "eval", "train"])
def test_device_cuda_without_cuda(name, files, no_compute, tmp_path):
    res = invoke(*command(name, files, tmp_path / "out"), "--device", "cuda")
    assert res.exit_code == 2, res.output
    assert "--device cuda" in error_line(res)


def test_patterns_seed_must_be_non_negative(tmp_path):
    res = invoke("patterns", "--seed", "-1", "--out", tmp_path / "p.png")
    assert res.exit_code == 2 and "--seed" in res.output and "Traceback" not in res.output
    res = invoke("patterns", "--density", "0", "--out", tmp_path / "p.png")
    assert res.exit_code == 2 and "--density" in res.output and "Traceback" not in res.output
    res = invoke("patterns", "--out", tmp_path / "p.jpg")
    assert res.exit_code == 2 and "--out" in res.output
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["complete", "eval"])
def test_corrupt_checkpoint_is_one_line_naming_the_file(name, files, tmp_path):
    args = command(name, files, tmp_path / "out")
    args[args.index(files["ckpt"])] = files["corrupt"]
    res = invoke(*args)
    assert res.exit_code == 1, res.output
    assert "corrupt.pt" in error_line(res)


def test_corrupt_last_checkpoint_on_resume(files, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(files["corrupt"].read_bytes())
    res = invoke("train", "--data", files["root"], "--out", run, "--steps", "5", "--resume")
    assert res.exit_code == 1, res.output
    assert "last.pt" in error_line(res)
    assert (run / "last.pt").read_bytes() == files["corrupt"].read_bytes()
    # an inference-only checkpoint (no optimiser state) cannot be resumed: one line, not a KeyError
    (run / "last.pt").write_bytes(files["ckpt"].read_bytes())
    res = invoke("train", "--data", files["root"], "--out", run, "--steps", "5", "--resume")
    assert res.exit_code == 1 and "cannot be resumed" in error_line(res)


def test_sgm_pair_bad_preset_and_same_outputs(files, tmp_path):
    res = invoke(*command("sgm-pair", files, tmp_path), "--preset", "d999")
    assert res.exit_code == 2 and "--preset d999" in error_line(res)
    res = invoke(*command("sgm-pair", files, tmp_path), "--preview", tmp_path / "d.npy")
    assert res.exit_code == 2 and "different files" in error_line(res)
    assert not list(tmp_path.iterdir())
