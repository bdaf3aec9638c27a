"""GT-free statistics of RGB-D frames, for real captures and for simulated sensor depth alike.

Real captures (``--real DIR``) are uint16 PNG depth maps (millimetres by default, 0 = hole) with an
RGB image of the same view. Three layouts are read:

* **per-frame folders** (``../shared/data/real_rgbd``): ``DIR/<frame>/raw_depth.png`` with ``rgb.*`` and
  ``intrinsics.txt``, optional ``DIR/index.json``; read by :mod:`lbd.real_frames` (its ``depth_scale``
  per frame wins over ``--real-depth-unit``);

* **flat**: ``DIR/<name>.png`` (depth) next to ``DIR/<name>_rgb.png`` (or ``_rgb.jpg``, ``_color.png``,
  ``_color.jpg``);
* **subfolders**: ``DIR/depth/<name>.png`` with ``DIR/rgb/<name>.png|jpg`` (or ``DIR/color/...``).

A depth map without its RGB image still counts for the hole and depth statistics (not for the
RGB-edge statistic). An RGB image of another size is resized to the depth size (INTER_AREA).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from realism.borders import BorderStats
from realism.gtfree import summarise

RGB_SUFFIXES = ("_rgb", "_color")
IMAGE_EXTS = (".png", ".jpg", ".jpeg")
EIGHT_CONNECTED = np.ones((3, 3), bool)
HOLE_AREA_EDGES = np.logspace(-7, 0, 29)  # component area / image area, 4 bins per decade


@dataclass(frozen=True)
class RealFrame:
    """One real RGB-D frame on disk."""

    name: str
    depth_path: Path
    rgb_path: Path | None


def _find_rgb(folder: Path, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    for suffix in suffixes:
        for ext in IMAGE_EXTS:
            path = folder / f"{stem}{suffix}{ext}"
            if path.is_file():
                return path
    return None


def find_real_frames(root: Path) -> list[RealFrame]:
    """Depth/RGB pairs in ``root`` (flat or ``depth/`` + ``rgb/``|``color/`` layout), sorted by name.

    Raises ValueError naming ``root`` if it is not a directory or holds no depth PNG.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"real capture folder {root} does not exist or is not a directory")
    frames: list[RealFrame] = []
    if is_frame_folder_layout(root):
        from lbd.real_frames import frame_dirs
        return [RealFrame(p.name, p / "raw_depth.png", None) for p in frame_dirs(root)]
    if (root / "depth").is_dir():
        rgb_dirs = [d for d in (root / "rgb", root / "color") if d.is_dir()]
        for path in sorted((root / "depth").glob("*.png")):
            rgb = next((p for d in rgb_dirs if (p := _find_rgb(d, path.stem, ("",))) is not None), None)
            frames.append(RealFrame(path.stem, path, rgb))
    else:
        for path in sorted(root.glob("*.png")):
            if path.stem.endswith(RGB_SUFFIXES):
                continue
            frames.append(RealFrame(path.stem, path, _find_rgb(root, path.stem, RGB_SUFFIXES)))
    if not frames:
        raise ValueError(
            f"no depth PNGs in real capture folder {root}: expected <name>.png (uint16 depth, mm) with "
            f"<name>_rgb.png, or depth/<name>.png with rgb/<name>.png")
    return frames


def is_frame_folder_layout(root: Path) -> bool:
    """True for the per-frame folder layout (``<frame>/raw_depth.png``, or ``raw_depth.png`` in ``root``)."""
    root = Path(root)
    return (root / "raw_depth.png").is_file() or (root / "index.json").is_file() or any(
        (p / "raw_depth.png").is_file() for p in root.iterdir() if p.is_dir())


def read_real_frame(frame: RealFrame, depth_unit_m: float = 0.001) -> tuple[np.ndarray, np.ndarray | None]:
    """(depth in metres HxW float32 with 0 = hole, RGB HxWx3 uint8 or None).

    Raises ValueError naming the file if the depth is not a single-channel uint16 image.
    """
    depth = cv2.imread(str(frame.depth_path), cv2.IMREAD_UNCHANGED)
    if depth is None:
        raise ValueError(f"{frame.depth_path}: not a readable image")
    if depth.ndim != 2 or depth.dtype != np.uint16:
        raise ValueError(f"{frame.depth_path}: depth must be a single-channel uint16 PNG "
                         f"(got {depth.dtype} with shape {depth.shape})")
    rgb = None
    if frame.rgb_path is not None:
        bgr = cv2.imread(str(frame.rgb_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{frame.rgb_path}: not a readable image")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if rgb.shape[:2] != depth.shape:
            rgb = cv2.resize(rgb, (depth.shape[1], depth.shape[0]), interpolation=cv2.INTER_AREA)
    return depth.astype(np.float32) * np.float32(depth_unit_m), rgb


def hole_component_areas(hole: np.ndarray) -> np.ndarray:
    """Pixel areas of the 8-connected components of a bool hole mask."""
    labels, n = ndimage.label(hole, structure=EIGHT_CONNECTED)
    if n == 0:
        return np.zeros(0, np.int64)
    return np.bincount(labels.ravel())[1:].astype(np.int64)


def hole_size_summary(areas_px: np.ndarray, area_fractions: np.ndarray) -> dict:
    """Component count, size percentiles (px) and histograms over component area / image area."""
    if len(areas_px) == 0:
        return {"components": 0, "median_px": 0.0, "mean_px": 0.0, "p90_px": 0.0, "largest_px": 0,
                "hist_edges_area_fraction": HOLE_AREA_EDGES.tolist(),
                "hist_components": [0] * (len(HOLE_AREA_EDGES) - 1),
                "hist_pixel_share": [0.0] * (len(HOLE_AREA_EDGES) - 1)}
    frac = np.clip(area_fractions, HOLE_AREA_EDGES[0], HOLE_AREA_EDGES[-1])
    counts, _ = np.histogram(frac, HOLE_AREA_EDGES)
    weights, _ = np.histogram(frac, HOLE_AREA_EDGES, weights=areas_px.astype(np.float64))
    return {"components": int(len(areas_px)), "median_px": float(np.median(areas_px)),
            "mean_px": float(np.mean(areas_px)), "p90_px": float(np.percentile(areas_px, 90)),
            "largest_px": int(areas_px.max()),
            "hist_edges_area_fraction": HOLE_AREA_EDGES.tolist(),
            "hist_components": counts.astype(int).tolist(),
            "hist_pixel_share": (weights / max(weights.sum(), 1.0)).tolist()}


def rgb_edges(rgb: np.ndarray, radius_px: int, low: int = 50, high: int = 150) -> np.ndarray:
    """Bool mask of pixels within ``radius_px`` of a Canny edge of the RGB image (grey, 3x3 blur)."""
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (3, 3), 0)
    edges = cv2.Canny(grey, low, high) > 0
    if radius_px > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1, 2 * radius_px + 1))
        edges = cv2.dilate(edges.astype(np.uint8), kernel) > 0
    return edges


@dataclass
class GtFreeStats:
    """Statistics that need no GT, accumulated over frames (one image frame, metres)."""

    depth_edges_m: np.ndarray
    edge_radius_px: int = 3
    frames: int = 0
    pixels: int = 0
    holes: int = 0
    frame_hole_fractions: list[float] = field(default_factory=list)
    areas_px: list[np.ndarray] = field(default_factory=list)
    area_fractions: list[np.ndarray] = field(default_factory=list)
    edge_frames: int = 0
    edge_pixels: int = 0
    edge_all_pixels: int = 0
    edge_holes: int = 0
    edge_hole_pixels: int = 0
    depth_counts: np.ndarray | None = None
    frame_stats: list = field(default_factory=list)  # realism.gtfree.FrameStats per frame
    names: list[str] = field(default_factory=list)

    def add(self, depth_m: np.ndarray, rgb: np.ndarray | None, name: str = "") -> None:
        """One frame: depth (m, 0 = hole) and the RGB image of the same view (or None)."""
        from realism.gtfree import frame_stats

        self.frame_stats.append(frame_stats(depth_m, rgb, rng=np.random.default_rng(len(self.frame_stats))))
        self.names.append(name)
        hole = depth_m <= 0
        n = hole.size
        self.frames += 1
        self.pixels += n
        self.holes += int(hole.sum())
        self.frame_hole_fractions.append(float(hole.mean()))
        areas = hole_component_areas(hole)
        self.areas_px.append(areas)
        self.area_fractions.append(areas / n)
        if rgb is not None:
            near = rgb_edges(rgb, self.edge_radius_px)
            self.edge_frames += 1
            self.edge_all_pixels += n
            self.edge_pixels += int(near.sum())
            self.edge_hole_pixels += int(hole.sum())
            self.edge_holes += int((hole & near).sum())
        counts, _ = np.histogram(depth_m[~hole], self.depth_edges_m)
        self.depth_counts = counts if self.depth_counts is None else self.depth_counts + counts

    def result(self) -> dict:
        areas = np.concatenate(self.areas_px) if self.areas_px else np.zeros(0, np.int64)
        fracs = np.concatenate(self.area_fractions) if self.area_fractions else np.zeros(0)
        per_frame = np.array(self.frame_hole_fractions) if self.frame_hole_fractions else np.zeros(1)
        counts = (self.depth_counts if self.depth_counts is not None
                  else np.zeros(len(self.depth_edges_m) - 1, np.int64))
        widths = np.diff(self.depth_edges_m)
        density = counts / max(counts.sum(), 1) / widths
        on_edges = self.edge_holes / self.edge_hole_pixels if self.edge_hole_pixels else None
        base = self.edge_pixels / self.edge_all_pixels if self.edge_all_pixels else None
        return {
            "frames": self.frames,
            "hole_fraction": self.holes / max(self.pixels, 1),
            "hole_fraction_per_frame": {
                "mean": float(per_frame.mean()), "median": float(np.median(per_frame)),
                "p10": float(np.percentile(per_frame, 10)), "p90": float(np.percentile(per_frame, 90))},
            "hole_sizes": hole_size_summary(areas, fracs),
            "holes_on_rgb_edges": {
                "frames_with_rgb": self.edge_frames, "edge_radius_px": self.edge_radius_px,
                "hole_pixels_near_edge": on_edges, "all_pixels_near_edge": base,
                "enrichment": (on_edges / base) if on_edges is not None and base else None},
            "depth_histogram": {"edges_m": self.depth_edges_m.tolist(),
                                "density_per_m": density.tolist()},
            "statistics": summarise(self.frame_stats) if self.frame_stats else None,
            "frame_names": self.names,
        }


def real_statistics(root: Path, depth_edges_m: np.ndarray, edge_radius_px: int = 3,
                    depth_unit_m: float = 0.001, progress: bool = True,
                    frames_glob: tuple[str, ...] = ()) -> tuple[dict, list[str]]:
    """GT-free statistics of every readable frame in ``root`` and the list of skipped files (reasons).

    Raises ValueError naming ``root`` if no frame is readable.
    """
    from tqdm import tqdm

    stats = GtFreeStats(np.asarray(depth_edges_m, np.float64), edge_radius_px)
    borders = BorderStats()
    skipped: list[str] = []
    if is_frame_folder_layout(root):
        from lbd.real_frames import GT_NAME, RealFrameError, load_frame, read_gt_depth, read_index
        from lbd.real_frames import frame_dirs as folders
        index = read_index(root)
        for folder in tqdm(folders(root), desc="real frames", unit="frame", disable=not progress):
            if frames_glob and not any(fnmatch.fnmatch(folder.name, g) for g in frames_glob):
                continue
            try:
                f = load_frame(folder, depth_unit_m, entry=index.get(folder.name), root=folder.parent,
                               require_intrinsics=False)
            except RealFrameError as exc:
                skipped.append(str(exc))
                continue
            stats.add(f.depth, f.rgb, f.name)
            try:  # a frame with GT also measures its hole borders
                gt = read_gt_depth(f)
            except RealFrameError as exc:
                skipped.append(f"{GT_NAME} not used: {exc}")
                continue
            if gt is not None:
                borders.add(f.depth, gt)
        if stats.frames == 0:
            raise ValueError(f"no readable frames in real capture folder {root}"
                             + (f" matching {', '.join(frames_glob)}" if frames_glob else "") + ": "
                             + "; ".join(skipped[:3]))
        result = stats.result()
        result["folder"] = str(root)
        result["skipped"] = skipped
        result["hole_borders"] = borders.result()
        return result, skipped
    frames = find_real_frames(root)
    if frames_glob:
        frames = [f for f in frames if any(fnmatch.fnmatch(f.name, g) for g in frames_glob)]
    for frame in tqdm(frames, desc="real frames", unit="frame", disable=not progress):
        try:
            depth, rgb = read_real_frame(frame, depth_unit_m)
        except ValueError as exc:
            skipped.append(str(exc))
            continue
        stats.add(depth, rgb, frame.name)
    if stats.frames == 0:
        raise ValueError(f"no readable frames in real capture folder {root}: " + "; ".join(skipped[:3]))
    result = stats.result()
    result["folder"] = str(root)
    result["skipped"] = skipped
    return result, skipped
