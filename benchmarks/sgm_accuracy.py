"""SGM accuracy: Middlebury pairs (per pair, per backend) and rendered datasets (per material).

    python benchmarks/sgm_accuracy.py [--preset generic] [--pairs cones,teddy] [--threads N]
    python benchmarks/sgm_accuracy.py --dataset RAW_DIR [--preset d435] [--max-samples N]

Middlebury: data dir from env LBD_MIDDLEBURY (default /work/shared/data/middlebury). Errors are
counted on the derived non-occluded mask (all valid GT for tsukuba, which has no right GT), on
columns x >= the search range (OpenCV never matches its left band, so both backends are scored on
the same pixels). bad-N = % of those pixels with |d - GT| > N px, holes counted as errors;
MAE on valid pixels (px); density = % of those pixels with a disparity.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# sleeping OpenMP workers (as `cli.py sgm`): spinning ones collapse when other processes share the cores
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import sgm  # noqa: E402

MIDDLEBURY_DIR = Path(os.environ.get("LBD_MIDDLEBURY", "/work/shared/data/middlebury"))
SEARCH_RANGE = {"tsukuba": 16, "venus": 32, "cones": 64, "teddy": 64}
PAIRS = tuple(SEARCH_RANGE)


def load_middlebury(pair: str, root: Path = MIDDLEBURY_DIR) -> dict:
    """Grey left/right uint8, GT disparity float32 px (0 = unknown), evaluation mask, search range."""
    folder = root / pair
    if not folder.is_dir():
        raise FileNotFoundError(f"Middlebury pair {pair!r} not found in {root} (set LBD_MIDDLEBURY)")
    scale = json.loads((root / "pairs.json").read_text())[pair]["scale"]
    left = cv2.imread(str(folder / "im0.png"), cv2.IMREAD_GRAYSCALE)
    right = cv2.imread(str(folder / "im1.png"), cv2.IMREAD_GRAYSCALE)
    gt = cv2.imread(str(folder / "disp0.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / scale
    mask_file = folder / "mask0nocc_derived.png"
    mask = cv2.imread(str(mask_file), cv2.IMREAD_UNCHANGED) == 255 if mask_file.exists() else gt > 0
    return {"left": left, "right": right, "gt": gt, "mask": mask & (gt > 0),
            "max_disparity": SEARCH_RANGE[pair]}


def disparity_errors(disp: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """bad-1, bad-2 (% of mask pixels, holes = errors), MAE (px, valid pixels), density (%)."""
    d, g = disp[mask], gt[mask]
    valid = d > 0
    err = np.abs(d - g)
    return {"bad1": 100.0 * float(np.mean(~valid | (err > 1))),
            "bad2": 100.0 * float(np.mean(~valid | (err > 2))),
            "mae": float(err[valid].mean()) if valid.any() else float("nan"),
            "density": 100.0 * float(valid.mean())}


def reference_opencv(left: np.ndarray, right: np.ndarray, max_disparity: int) -> np.ndarray:
    """The accuracy reference: OpenCV StereoSGBM MODE_HH, block 5, P1 8*25, P2 32*25, uniqueness 10,
    speckle 100 / 2 px, no LR check, as OpenCV ships it (left band unmatched); float px, 0 = hole."""
    from sgm.opencv_backend import reference_sgbm
    num = 16 * int(np.ceil(max_disparity / 16))
    raw = reference_sgbm(num, uniqueness=10, disp12_max_diff=-1, speckle_size=100,
                         speckle_range_px=2).compute(left, right)
    return np.where(raw > 0, raw.astype(np.float32) / 16.0, 0.0).astype(np.float32)


def evaluate_middlebury(pair: str, backend: str, preset: str = "generic",
                        downscale: int = 1) -> dict[str, float]:
    """Errors on one pair of `sgm.match` (backend 'torch' or 'opencv' with `preset`) or of the
    OpenCV reference (backend 'reference'); downscale 2 halves images, GT and range."""
    data = load_middlebury(pair)
    left, right, gt, mask, D = data["left"], data["right"], data["gt"], data["mask"], data["max_disparity"]
    if downscale > 1:
        size = (left.shape[1] // downscale, left.shape[0] // downscale)
        left, right = (cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in (left, right))
        gt = cv2.resize(gt, size, interpolation=cv2.INTER_NEAREST) / downscale
        mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        D = D // downscale
    start = time.perf_counter()
    if backend == "reference":
        disp = reference_opencv(left, right, D)
    else:
        disp = sgm.match(left, right, max_disparity=D, preset=preset, backend=backend)
    seconds = time.perf_counter() - start
    scored = mask.copy()
    scored[:, :D] = False
    return {**disparity_errors(disp, gt, scored), "seconds": seconds}


def evaluate_dataset(dataset_dir: str | Path, preset: str = "d435", backend: str = "torch",
                     max_samples: int | None = None, device: str = "cpu",
                     exclude_band: bool = True) -> dict[str, dict[str, float]]:
    """Per material class errors of SGM on rendered samples against the GT `disparity`.

    Pixels with GT disparity > 0 are scored (holes = errors), without the leftmost max_disparity
    columns when exclude_band (the band D4xx-like presets and OpenCV never match); returns
    {class name: metrics} plus 'all'. Each sample's search range follows the dataset command
    (fx * b / z_min of the preset, capped).
    """
    from sgm.dataset import max_disparity_for
    from synth.schema import MATERIAL_CLASSES
    from synth.shards import open_dataset

    params = sgm.load_preset(preset)
    sums: dict[str, dict[str, float]] = {}
    names = dict(MATERIAL_CLASSES) if isinstance(MATERIAL_CLASSES, dict) else dict(enumerate(MATERIAL_CLASSES))
    count = 0
    fields = ["ir_left", "ir_right", "disparity", "material", "meta"]
    for sample in open_dataset(dataset_dir).iter_samples(fields=fields):
        if max_samples is not None and count >= max_samples:
            break
        count += 1
        D = max_disparity_for(sample["meta"], params, sample["ir_left"].shape[1])
        disp = sgm.match(sample["ir_left"], sample["ir_right"], max_disparity=D, preset=params,
                         backend=backend, device=device)
        gt, material = sample["disparity"], sample["material"]
        scored = gt > 0
        if exclude_band:
            scored[:, :D] = False
        for cls in [None, *np.unique(material[scored]).tolist()]:
            mask = scored if cls is None else scored & (material == cls)
            name = "all" if cls is None else str(names.get(int(cls), cls))
            acc = sums.setdefault(name, {"pixels": 0, "bad1": 0, "bad2": 0, "abs_err": 0.0, "valid": 0})
            d, g = disp[mask], gt[mask]
            valid = d > 0
            err = np.abs(d - g)
            acc["pixels"] += int(mask.sum())
            acc["bad1"] += int(np.sum(~valid | (err > 1)))
            acc["bad2"] += int(np.sum(~valid | (err > 2)))
            acc["abs_err"] += float(err[valid].sum())
            acc["valid"] += int(valid.sum())
    out = {}
    for name, acc in sums.items():
        n = max(acc["pixels"], 1)
        out[name] = {"bad1": 100.0 * acc["bad1"] / n, "bad2": 100.0 * acc["bad2"] / n,
                     "mae": acc["abs_err"] / max(acc["valid"], 1), "density": 100.0 * acc["valid"] / n,
                     "pixels": acc["pixels"]}
    return out


def print_table(rows: list[tuple[str, str, dict[str, float]]], first: str = "pair") -> None:
    """Fixed-width table: first column, backend, bad-1, bad-2, MAE, density, time."""
    print(f"{first:<12} {'backend':<8} {'bad-1 %':>8} {'bad-2 %':>8} {'MAE px':>7} {'density %':>9} {'time s':>7}")
    for key, backend, m in rows:
        secs = f"{m['seconds']:7.2f}" if "seconds" in m else f"{'':>7}"
        print(f"{key:<12} {backend:<8} {m['bad1']:8.2f} {m['bad2']:8.2f} {m['mae']:7.3f} {m['density']:9.2f} {secs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="generic", help="torch preset (default generic)")
    parser.add_argument("--pairs", default=",".join(PAIRS), help="comma-separated Middlebury pairs")
    parser.add_argument("--dataset", default=None, help="rendered dataset dir: per-material report instead")
    parser.add_argument("--max-samples", type=int, default=None, help="samples of --dataset to score")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.dataset:
        rows = []
        for backend in ("torch", "opencv"):
            res = evaluate_dataset(args.dataset, args.preset, backend, args.max_samples)
            rows += [(name, backend, m) for name, m in sorted(res.items())]
        print(f"dataset {args.dataset}, preset {args.preset}; scored: GT disparity > 0")
        print_table(rows, first="material")
        return
    rows = []
    wins = []
    for pair in args.pairs.split(","):
        ours = evaluate_middlebury(pair, "torch", args.preset)
        ref = evaluate_middlebury(pair, "reference")
        rows += [(pair, "torch", ours), (pair, "opencv", ref)]
        wins.append(ours["bad2"] < ref["bad2"])
    print(f"Middlebury, torch preset {args.preset!r} vs OpenCV StereoSGBM MODE_HH (block 5, P1 8*25, "
          f"P2 32*25, uniqueness 10, speckle 100/2); non-occluded GT, x >= search range, holes = errors")
    print_table(rows)
    print(f"torch beats OpenCV on bad-2: {sum(wins)}/{len(wins)} pairs")


if __name__ == "__main__":
    main()
