"""Contact sheets and point clouds of dataset samples, for people to look at."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from synth.shards import DatasetError, open_dataset

DEPTH_CMAP = "turbo"
ERROR_CMAP = "magma"


def pick_samples(root: Path, n: int) -> list[dict]:
    """``n`` samples spread evenly over the dataset (all of them if it holds fewer)."""
    ds = open_dataset(root)
    total = len(ds)
    if total == 0:
        raise DatasetError(f"{root} holds no samples")
    wanted = set(np.linspace(0, total - 1, min(n, total)).round().astype(int).tolist())
    picked = []
    for i, sample in enumerate(ds.iter_samples()):
        if i in wanted:
            picked.append(sample)
        if len(picked) == len(wanted):
            break
    return picked


def sensor_depth_m(sample: dict) -> np.ndarray | None:
    """Sensor depth in the RGB frame in metres (0 = hole), or None if the sample has none."""
    if "sensor_depth" not in sample:
        return None
    return sample["sensor_depth"].astype(np.float32) / 1000.0


def contact_sheet(samples: list[dict], out: Path) -> Path:
    """One row per sample: RGB, IR left/right, GT depth, sensor depth, hole mask, |sensor - GT|.

    All depths share one colour scale (metres) with a colour bar; errors share another.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    has_sensor = any("sensor_depth" in s for s in samples)
    cols = ["rgb", "ir_left", "ir_right", "GT depth_rgb"]
    if has_sensor:
        cols += ["sensor_depth", "holes", "|sensor - GT|"]
    gt_all = np.concatenate([s["depth_rgb"][s["depth_rgb"] > 0].ravel() for s in samples] or [[1.0]])
    vmin, vmax = (np.percentile(gt_all, [1, 99]) if gt_all.size else (0.0, 1.0))
    vmax = max(vmax, vmin + 1e-3)
    emax = 0.1 * vmax
    fig, axes = plt.subplots(len(samples), len(cols), figsize=(2.6 * len(cols), 2.1 * len(samples) + 0.6),
                             squeeze=False)
    depth_im = err_im = None
    for r, s in enumerate(samples):
        gt = s["depth_rgb"]
        sd = sensor_depth_m(s)
        panels = [(s["rgb"], {}), (s["ir_left"], {"cmap": "gray"}), (s["ir_right"], {"cmap": "gray"}),
                  (np.ma.masked_equal(gt, 0), {"cmap": DEPTH_CMAP, "vmin": vmin, "vmax": vmax})]
        if has_sensor:
            if sd is None:
                sd = np.zeros_like(gt)
            holes = (sd == 0) & (gt > 0)
            err = np.where((sd > 0) & (gt > 0), np.abs(sd - gt), np.nan)
            panels += [(np.ma.masked_equal(sd, 0), {"cmap": DEPTH_CMAP, "vmin": vmin, "vmax": vmax}),
                       (holes, {"cmap": "gray"}),
                       (np.ma.masked_invalid(err), {"cmap": ERROR_CMAP, "vmin": 0, "vmax": emax})]
        for c, (img, kw) in enumerate(panels):
            ax = axes[r, c]
            im = ax.imshow(img, interpolation="nearest", **kw)
            if kw.get("cmap") == DEPTH_CMAP:
                depth_im = im
            if kw.get("cmap") == ERROR_CMAP:
                err_im = im
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(cols[c], fontsize=9)
        hole_txt = ""
        if has_sensor and sd is not None:
            valid_gt = gt > 0
            hole_txt = f"\nholes {100 * ((sd == 0) & valid_gt).sum() / max(valid_gt.sum(), 1):.1f}%"
        axes[r, 0].set_ylabel(f"{s['__key__']}{hole_txt}", fontsize=7)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    if depth_im is not None:
        cax = fig.add_axes((0.94, 0.55, 0.012, 0.35))
        fig.colorbar(depth_im, cax=cax).set_label("depth (m)", fontsize=8)
    if err_im is not None:
        cax = fig.add_axes((0.94, 0.1, 0.012, 0.35))
        fig.colorbar(err_im, cax=cax).set_label("|error| (m)", fontsize=8)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out


def backproject(depth_m: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, 3) in the camera frame (OpenCV, metres) of pixels with depth > 0, and their mask."""
    h, w = depth_m.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    mask = depth_m > 0
    z = depth_m[mask].astype(np.float64)
    x = (u[mask] - K[0, 2]) * z / K[0, 0]
    y = (v[mask] - K[1, 2]) * z / K[1, 1]
    return np.stack([x, y, z], axis=1), mask


def write_point_clouds(samples: list[dict], out_dir: Path) -> list[Path]:
    """``<key>_gt.ply`` (and ``<key>_sensor.ply`` when present): coloured clouds in the RGB frame."""
    import open3d as o3d

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for s in samples:
        K = np.asarray(s["meta"]["K_rgb"], dtype=np.float64)
        depths = {"gt": s["depth_rgb"]}
        sd = sensor_depth_m(s)
        if sd is not None:
            depths["sensor"] = sd
        for name, depth in depths.items():
            pts, mask = backproject(depth, K)
            cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
            cloud.colors = o3d.utility.Vector3dVector(s["rgb"][mask].astype(np.float64) / 255.0)
            path = out_dir / f"{s['__key__']}_{name}.ply"
            tmp = path.with_name(f".{path.stem}.tmp.ply")
            if not o3d.io.write_point_cloud(str(tmp), cloud):
                raise DatasetError(f"open3d could not write {path}")
            tmp.replace(path)
            written.append(path)
    return written
