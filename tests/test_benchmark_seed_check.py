"""benchmarks/seed_check.py runs end to end on a small analytic sensor dataset (real SGM-free fixture views)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from mdm.synthetic import write_fixture_dataset

ROOT = Path(__file__).resolve().parents[1]


def test_seed_check_benchmark_prints_every_fill_and_the_check(tmp_path):
    train = write_fixture_dataset(tmp_path / "train", 4, size=(180, 240), shard_size=4, seed=1, prefix="train")
    test = write_fixture_dataset(tmp_path / "test", 2, size=(180, 240), shard_size=2, seed=2, prefix="test")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "seed_check.py"), "--train", str(train),
                          "--test", str(test), "--seconds", "2", "--inputs", "depth"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert re.search(r"CNN check: \d+ steps", out)
    share = float(re.search(r"wrong seeds ([0-9.]+) of the measured pixels", out).group(1))
    assert 0.0 <= share <= 1.0
    rows = {m.group(1).strip(): float(m.group(4)) for m in
            re.finditer(r"^\| (.+?) \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.na]+) \|$", out, re.M)}
    assert {"guided   all seeds", "harmonic all seeds", "guided   oracle (no wrong seeds)",
            "guided   CNN check, P > 0.8"} <= set(rows)
    assert re.search(r"CNN check AUC [0-9.n]", out)
