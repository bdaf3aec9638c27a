"""MDM training: resume after a kill continues with the same loss; checkpoints are atomic and checked; a resume
past --steps, a NaN loss and a full disk stop with one line and leave the last checkpoint as it was."""
from __future__ import annotations

import csv
import errno
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from cli import cli
from mdm import checkpoint as ckpt_mod
from mdm import train as train_mod
from mdm.checkpoint import CheckpointError, load_checkpoint, load_model
from mdm.synthetic import write_fixture_dataset
from mdm.train import TrainConfig, train
from synth import shards

ROOT = Path(__file__).resolve().parent.parent
COMMON = dict(batch=2, workers=0, size=(28, 42), lr_encoder=3e-4, lr_decoder=3e-4, warmup=2, decay_every=100,
              ckpt_every=2, threads=1, progress=False)
CLI_ARGS = ["--batch", "2", "--workers", "0", "--size", "28x42", "--lr-encoder", "3e-4", "--lr-decoder", "3e-4",
            "--warmup", "2", "--decay-every", "100", "--ckpt-every", "2", "--threads", "1"]




@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_fixture_dataset(tmp_path_factory.mktemp("mdm_train") / "fx", 12, size=(42, 56), shard_size=4)


def _losses(run: Path) -> dict[int, str]:
    with open(run / "log.csv", newline="") as f:
        return {int(r["step"]): r["loss"] for r in csv.DictReader(f)}


def _log(run: Path) -> tuple[list[str], list[dict]]:
    with open(run / "log.csv", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def _check_times(rows: list[dict], batch: int = 2) -> None:
    """wait_s / step_s are non-negative and add up to the step's wall time, batch / samples_per_s."""
    for r in rows:
        wait, step, wall = float(r["wait_s"]), float(r["step_s"]), batch / float(r["samples_per_s"])
        assert wait >= 0 and step >= 0, r
        assert wait <= wall * 1.01 + 1e-4 and abs(wait + step - wall) <= 0.01 * wall + 2e-4, r


def test_resume_after_kill_continues_same_step_same_loss(data, tmp_path):
    run = tmp_path / "killed"
    cmd = [sys.executable, str(ROOT / "cli.py"), "train", "--data", str(data), "--out", str(run), "--steps", "500",
           *CLI_ARGS]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not (run / "step_000004.pt").exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "training did not reach step 4 in time"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    for path in run.glob("*.pt"):  # every checkpoint under its final name is complete
        load_checkpoint(path)
    k = int(load_checkpoint(run / "last.pt")["step"])
    assert k >= 2 and (run / f"step_{k:06d}.pt").exists()
    resumed = train(TrainConfig(data=[str(data)], out=str(run), steps=k + 2, resume=True, **COMMON))
    assert resumed["step"] == k + 2
    reference = tmp_path / "reference"
    train(TrainConfig(data=[str(data)], out=str(reference), steps=k + 2, seed=0, **COMMON))
    got, want = _losses(run), _losses(reference)
    assert sorted(got) == list(range(1, k + 3))
    assert [got[s] for s in range(1, k + 3)] == [want[s] for s in range(1, k + 3)]
    assert (run / "loss.png").stat().st_size > 1000


def test_resume_from_earlier_checkpoint_and_wrong_size(data, tmp_path):
    run = tmp_path / "run"
    train(TrainConfig(data=[str(data)], out=str(run), steps=4, **COMMON))
    branch = tmp_path / "branch"
    branch.mkdir()
    shutil.copy(run / "step_000002.pt", branch / "last.pt")
    fields, rows = _log(run)
    assert fields == list(train_mod.LOG_FIELDS) and fields[-2:] == ["wait_s", "step_s"] and len(rows) == 4
    _check_times(rows)
    old = fields[:6]  # the log.csv of a run started before wait_s / step_s existed
    with open(branch / "log.csv", "w", newline="") as f:
        csv.writer(f).writerows([old] + [[r[k] for k in old] for r in rows])
    train(TrainConfig(data=[str(data)], out=str(branch), steps=4, resume=True, **COMMON))
    assert _losses(branch) == _losses(run)
    fields, rows = _log(branch)
    assert fields == list(train_mod.LOG_FIELDS) and [r["wait_s"] for r in rows[:2]] == ["", ""]
    _check_times(rows[2:])
    runner = CliRunner()
    res = runner.invoke(cli, ["train", "--data", str(data), "--out", str(run), "--steps", "6", "--resume",
                                    "--model", "small", *CLI_ARGS])
    assert res.exit_code != 0 and "holds a 'tiny' model, not 'small'" in res.output
    res = runner.invoke(cli, ["train", "--data", str(data), "--out", str(run), "--steps", "6", *CLI_ARGS])
    assert res.exit_code != 0 and "--resume" in res.output
    with pytest.raises(CheckpointError, match="not 'small'"):
        load_model(run / "last.pt", expect_size="small")


def test_corrupt_checkpoints_are_refused(data, tmp_path):
    run = tmp_path / "run"
    train(TrainConfig(data=[str(data)], out=str(run), steps=2, **COMMON))
    good = (run / "last.pt").read_bytes()
    (tmp_path / "half.pt").write_bytes(good[: len(good) // 2])
    (tmp_path / "noise.pt").write_bytes(os.urandom(4096))
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    for name in ("half.pt", "noise.pt", "foreign.pt", "absent.pt"):
        with pytest.raises(CheckpointError, match=name):
            load_checkpoint(tmp_path / name)


def test_failed_save_leaves_previous_checkpoint(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    ckpt_mod.save_checkpoint(target, {"model_config": {}, "model": {}, "step": 1})

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.torch, "save", broken_save)
    with pytest.raises(OSError):
        ckpt_mod.save_checkpoint(target, {"model_config": {}, "model": {}, "step": 2})
    assert load_checkpoint(target)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_train_cli_bad_data(tmp_path):
    shards.init_dataset(tmp_path / "empty", "raw", {})
    runner = CliRunner()
    res = runner.invoke(cli, ["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "r1"), "--steps", "2",
                                    *CLI_ARGS])
    assert res.exit_code == 1 and "has no samples" in res.output and "empty" in res.output
    res = runner.invoke(cli, ["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "r2"),
                                    "--size", "30x40"])
    assert res.exit_code == 2 and "multiples of 14" in res.output
    # a shard whose samples lack 'rgb', read in a DataLoader worker process
    bad = tmp_path / "bad"
    shards.init_dataset(bad, "raw", {})
    import numpy as np

    from mdm.synthetic import fixture_sample
    with shards.ShardWriter(bad, "nocolour-000000", required=("depth_rgb",)) as writer:
        for i in range(2):
            sample = fixture_sample(f"k{i}-v0", (42, 56), np.random.default_rng(i), i, 0, 0)
            del sample["rgb"]
            writer.add(sample)
    args = [a if a != "0" or i == 0 else a for i, a in enumerate(CLI_ARGS)]
    args[args.index("--workers") + 1] = "1"
    res = runner.invoke(cli, ["train", "--data", str(bad), "--out", str(tmp_path / "r3"), "--steps", "2", *args])
    assert res.exit_code == 1, res.output
    assert "nocolour-000000.tar" in res.output and "'rgb'" in res.output
    assert not (tmp_path / "r3" / "last.pt").exists()


def test_resume_at_or_past_steps_is_refused(data, tmp_path):
    run = tmp_path / "run"
    train(TrainConfig(data=[str(data)], out=str(run), steps=2, **COMMON))
    ckpt = load_checkpoint(run / "last.pt")
    ckpt_mod.save_checkpoint(run / "last.pt", {k: v for k, v in ckpt.items() if k not in ("format", "version")}
                             | {"step": 300})
    before = (run / "last.pt").read_bytes(), (run / "log.csv").read_bytes()
    res = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(run), "--steps", "2", "--resume",
                                   *CLI_ARGS])
    assert res.exit_code == 2, res.output
    assert "--steps 2" in res.output and "already at step 300" in res.output and "last.pt" in res.output
    assert "Traceback" not in res.output and "nan" not in res.output
    assert ((run / "last.pt").read_bytes(), (run / "log.csv").read_bytes()) == before


def test_nan_loss_stops_with_the_step_and_saves_nothing(data, tmp_path, monkeypatch):
    real_loss = train_mod.l1_loss
    calls = []

    def loss_nan_at_step_2(pred, target):
        calls.append(1)
        loss = real_loss(pred, target)
        return loss * float("nan") if len(calls) == 2 else loss

    monkeypatch.setattr(train_mod, "l1_loss", loss_nan_at_step_2)
    run = tmp_path / "run"
    args = list(CLI_ARGS)
    args[args.index("--ckpt-every") + 1] = "1"
    res = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(run), "--steps", "4", *args])
    assert res.exit_code == 1, res.output
    assert "loss is nan at step 2" in res.output and "Traceback" not in res.output
    assert load_checkpoint(run / "last.pt")["step"] == 1
    assert not (run / "step_000002.pt").exists()
    assert sorted(_losses(run)) == [1]


def test_full_disk_while_saving_keeps_the_previous_checkpoint(data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(TrainConfig(data=[str(data)], out=str(run), steps=2, **COMMON))
    before = (run / "last.pt").read_bytes()

    def full_disk(obj, f):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_mod.torch, "save", full_disk)
    res = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(run), "--steps", "4", "--resume",
                                   *CLI_ARGS])
    assert res.exit_code == 1, res.output
    assert "no space left" in res.output and str(run) in res.output and "step 4" in res.output
    assert "Traceback" not in res.output
    assert (run / "last.pt").read_bytes() == before
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_depth_losses_in_metres_on_gt_pixels():
    """l1 = mean |error| over all GT pixels; rmse = per-image RMSE averaged over images with GT; pixels
    without GT (0, NaN) and images without any GT are ignored."""
    pred = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]], [[5.0, 5.0], [5.0, 5.0]]])
    target = torch.tensor([[[1.0, 1.0], [0.0, float("nan")]], [[2.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
    errors = [0.0, 1.0, 1.0, 1.0, 1.0, 3.0]
    assert train_mod.depth_loss(pred, target, "l1").item() == pytest.approx(sum(errors) / 6)
    rmse = (math.sqrt(1 / 2) + math.sqrt(12 / 4)) / 2
    assert train_mod.depth_loss(pred, target, "rmse").item() == pytest.approx(rmse, rel=1e-5)
    assert train_mod.depth_loss(pred, target, "l1+rmse").item() == pytest.approx((sum(errors) / 6 + rmse) / 2, rel=1e-5)
    with pytest.raises(ValueError, match="unknown loss"):
        train_mod.depth_loss(pred, target, "l2")
