"""Quality presets of the renderer (pure Python) and their measured cost.

Each preset gives Cycles settings for the three kinds of render in a sample:
* ``rgb``: the RGB frame (denoised with OpenImageDenoise),
* ``ir``: the projector part of each IR frame (the projector is the only light; NO denoiser, it
  smears the dots; few samples and bounces, no diffuse interreflection of the dots, but enough
  glossy and transmission bounces for mirrors and glass),
* ``ir_ambient``: the ambient part of each IR frame (room lights and sky at the scene's IR level,
  projector off): no dots, so it is denoised like the RGB frame,
* ``gt``: the ground-truth pass render (1 sample, 0 bounces, box filter 0.01 px: exact first hit at
  the pixel centre, no antialiasing).
``CPU_SECONDS_PER_SAMPLE`` / ``SECONDS_PER_SAMPLE`` are measured on the shared 2-core CPU machine at full
resolution with the user's command (see the comment at the figures); the dry run estimates from them.

What was measured for issue 17 (default preset, full resolution, CPU seconds per render; see
benchmarks/render_speed.py for the before/after comparison on the same views):
* per render call, Cycles' fixed cost with persistent data is ~0.01-0.02 s (an 8x8 render), so
  rendering both IR cameras in one multi-view call has nothing to amortise; not used;
* light groups (projector and ambient as two passes of one render): with the light tree off the
  projector is picked for 1 of N light samples and its dots come out ~11 dB noisier (PSNR against a
  128-spp render); with the light tree on the dots are fine but the ambient pass is full of fireflies
  and the render costs more than the two separate ones; not used;
* Depth/Index passes do not depend on light: the GT render of the RGB camera runs unlit (~40 %
  cheaper, bit-identical), and the point-sampled left ambient IR render, seeded like the GT render,
  IS the IR GT (one render fewer, bit-identical);
* IR projector part 4 -> 3 spp (same 4 views): dot contrast +0.7 points, SGM d435 density -0.4 and
  bad-1 -0.2 points (the targets: within 1 point); 2 spp moves the dot contrast by +1.5 points: not used;
* RGB: the former 8 spp at max 4 / diffuse 1 bounces was ~14 dB (PSNR, common exposure) off the paper
  reference from the shallow paths alone; the paper's depths cost little (paths end early), and with
  blue-noise sampling 2 spp + OIDN BALANCED beat it in PSNR on every view at a third of the CPU;
  OIDN HIGH gives the same output as BALANCED on this CPU, the ACCURATE prefilter costs more than
  3 extra samples, the light tree +40 % for no gain with a room's few lights, adaptive sampling does
  nothing below ~8 spp; spatial-split BVH and the thread count (1, 2, 4): no CPU-time gain measured;
  reading back the render EXRs costs <= 0.1 s per render. What was left per default sample (projector
  part still at 4 spp): RGB ~35 %,
  IR projector parts ~40 %, IR ambient parts ~20 %, unlit GT ~5 %, the rest (pattern, sensor model,
  encode, process start) ~2 CPU-s.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class PassSettings:
    """Cycles settings of one render (samples per pixel, bounce limits, denoise, filter)."""

    samples: int
    max_bounces: int
    diffuse_bounces: int
    glossy_bounces: int
    transmission_bounces: int
    transparent_bounces: int
    denoise: bool = False
    adaptive_threshold: float = 0.0  # 0 = adaptive sampling off
    adaptive_min_samples: int = 0  # with adaptive sampling: samples before the first convergence test (0 = auto)
    filter_type: str = "BLACKMAN_HARRIS"
    filter_width_px: float = 1.5
    clamp_indirect: float = 10.0
    tile_size: int = 2048
    denoise_quality: str = "BALANCED"  # OIDN: FAST | BALANCED | HIGH
    denoise_prefilter: str = "FAST"  # OIDN albedo/normal prefilter: NONE | FAST | ACCURATE
    light_tree: bool = False  # off: cheaper with the few lights of a room
    # Cycles sampling pattern: TABULATED_SOBOL (classic) or BLUE_NOISE (the residual noise is spread
    # evenly over the image, which OIDN removes better at a few samples per pixel)
    sampling_pattern: str = "TABULATED_SOBOL"

    def to_meta(self) -> dict:
        return asdict(self)


GT_PASS = PassSettings(samples=1, max_bounces=0, diffuse_bounces=0, glossy_bounces=0,
                       transmission_bounces=0, transparent_bounces=0, filter_type="BOX",
                       filter_width_px=0.01)
POINT_SAMPLED = {"filter_type": "BOX", "filter_width_px": 0.01}
# Projector part of an IR frame: the samples average the dots over the pixel's own area (stratified,
# no wider filter: a wide importance-sampled filter adds sample noise to the dot profile, which the
# stereo matcher reads as disparity noise); the optics blur is applied by synth.noise.
PIXEL_BOX = {"filter_type": "BOX", "filter_width_px": 1.0}


@dataclass(frozen=True)
class Quality:
    name: str
    rgb: PassSettings
    ir: PassSettings
    ir_ambient: PassSettings
    gt: PassSettings = GT_PASS
    # True: no separate GT renders; the RGB and IR renders are point-sampled at pixel centres
    # (0.01 px box filter, no antialiasing) and their own Depth/Index passes are the GT.
    gt_from_main: bool = False
    # resolution of the ambient IR part relative to the IR frame (smooth, denoised light: a
    # half-resolution render upsampled is enough for quick looks)
    ambient_scale: float = 1.0
    # True: the GT render of the RGB camera runs with every light and the sky off (Depth and Index
    # passes do not depend on light; bit-identical output, ~40 % cheaper: no light sampling)
    gt_unlit: bool = False
    # True: no separate GT render of the left IR camera; the left ambient IR part is point-sampled
    # like a GT render (``ir_ambient`` with the GT filter and sampling pattern, rendered with the GT
    # seed at full IR resolution), so its first sample takes the same camera rays as the GT render would
    # and its Depth/Index passes are that GT, bit for bit
    ir_gt_from_ambient: bool = False

    def __post_init__(self) -> None:
        if self.ir_gt_from_ambient:
            a, g = self.ir_ambient, self.gt
            if self.gt_from_main or self.ambient_scale != 1.0 or (a.filter_type, a.filter_width_px,
                                                                  a.sampling_pattern) != \
                    (g.filter_type, g.filter_width_px, g.sampling_pattern):
                raise ValueError(f"quality {self.name}: ir_gt_from_ambient needs a full-resolution ambient "
                                 "part with the GT render's filter and sampling pattern")

    def to_meta(self) -> dict:
        if self.gt_from_main:
            gt = "from the RGB/IR renders (point-sampled)"
        else:
            gt = self.gt.to_meta() | {"lights": "off" if self.gt_unlit else "on",
                                      "ir": "from the left ambient IR render (point-sampled, GT seed)"
                                      if self.ir_gt_from_ambient else "separate render"}
        return {"name": self.name, "rgb": self.rgb.to_meta(), "ir": self.ir.to_meta(),
                "ir_ambient": self.ir_ambient.to_meta() | {"resolution_scale": self.ambient_scale},
                "gt": gt}


# RGB path depths of the paper preset: with fewer (max 4 bounces, 1 diffuse) the RGB frame is ~14 dB
# (PSNR) darker/flatter than the paper reference; the extra bounces cost little (paths end early).
PAPER_BOUNCES = {"max_bounces": 8, "diffuse_bounces": 3, "glossy_bounces": 4, "transmission_bounces": 8,
                 "transparent_bounces": 8}

PRESETS: dict[str, Quality] = {
    # quick looks: point-sampled (aliased) renders that double as GT, 1 spp, fast denoiser on RGB and
    # on the half-resolution IR ambient part
    "preview": Quality(
        "preview",
        rgb=PassSettings(samples=1, max_bounces=2, diffuse_bounces=1, glossy_bounces=1,
                         transmission_bounces=2, transparent_bounces=2, denoise=True,
                         denoise_quality="FAST", **POINT_SAMPLED),
        ir=PassSettings(samples=1, max_bounces=2, diffuse_bounces=0, glossy_bounces=1,
                        transmission_bounces=2, transparent_bounces=2, **POINT_SAMPLED),
        ir_ambient=PassSettings(samples=1, max_bounces=2, diffuse_bounces=1, glossy_bounces=1,
                                transmission_bounces=2, transparent_bounces=2, denoise=True,
                                denoise_quality="FAST"),
        gt_from_main=True,
        ambient_scale=0.5,
    ),
    # training data (issue 17): antialiased RGB at 2 spp with the paper's path depths, blue-noise
    # sampling and OIDN (closer to the paper reference than the former 8 spp at shallow depth, at a
    # third of its cost); IR projector part 3 spp (no denoiser); IR ambient part 1 spp + OIDN,
    # point-sampled so that the left one doubles as the IR GT; GT render of the RGB camera unlit
    "default": Quality(
        "default",
        rgb=PassSettings(samples=2, **PAPER_BOUNCES, denoise=True, denoise_quality="BALANCED",
                         sampling_pattern="BLUE_NOISE"),
        ir=PassSettings(samples=3, max_bounces=4, diffuse_bounces=0, glossy_bounces=2,
                        transmission_bounces=4, transparent_bounces=4, **PIXEL_BOX),
        ir_ambient=PassSettings(samples=1, max_bounces=4, diffuse_bounces=1, glossy_bounces=2,
                                transmission_bounces=4, transparent_bounces=4, denoise=True,
                                denoise_quality="FAST", **POINT_SAMPLED),
        gt_unlit=True,
        ir_gt_from_ambient=True,
    ),
    # figures: many samples, deeper paths, light tree, best denoiser; GT render unlit
    "paper": Quality(
        "paper",
        rgb=PassSettings(samples=64, **PAPER_BOUNCES, denoise=True, adaptive_threshold=0.02,
                         denoise_quality="HIGH", denoise_prefilter="ACCURATE", light_tree=True,
                         sampling_pattern="BLUE_NOISE"),
        ir=PassSettings(samples=16, max_bounces=6, diffuse_bounces=1, glossy_bounces=4,
                        transmission_bounces=8, transparent_bounces=8, **PIXEL_BOX),
        ir_ambient=PassSettings(samples=4, max_bounces=6, diffuse_bounces=2, glossy_bounces=4,
                                transmission_bounces=8, transparent_bounces=8, denoise=True,
                                denoise_quality="HIGH", light_tree=True),
        gt_unlit=True,
    ),
}

# Hidden reference pipelines (not offered by the CLI; ``get`` accepts them): the presets as they were
# before issue 17, for benchmarks/render_speed.py's before/after comparison on the same views.
# Remove once the comparison is in the README.
REFERENCE_PRESETS: dict[str, Quality] = {
    "default_ref": Quality(
        "default_ref",
        rgb=PassSettings(samples=8, max_bounces=4, diffuse_bounces=1, glossy_bounces=2,
                         transmission_bounces=4, transparent_bounces=4, denoise=True,
                         denoise_quality="BALANCED"),
        ir=replace(PRESETS["default"].ir, samples=4),
        ir_ambient=PassSettings(samples=1, max_bounces=4, diffuse_bounces=1, glossy_bounces=2,
                                transmission_bounces=4, transparent_bounces=4, denoise=True,
                                denoise_quality="FAST"),
    ),
    "paper_ref": Quality(
        "paper_ref",
        rgb=PassSettings(samples=64, **PAPER_BOUNCES, denoise=True, adaptive_threshold=0.02,
                         denoise_quality="HIGH", denoise_prefilter="ACCURATE", light_tree=True),
        ir=PRESETS["paper"].ir,
        ir_ambient=PRESETS["paper"].ir_ambient,
    ),
}

# Measured with the user's command on the shared 2-core CPU machine at full resolution (issue 17):
# `cli.py render --scenes 1 --samples 2 --quality Q --seed 11` (paper: --samples 1), CPU = user + system
# time of the command and its workers (process start, scene build, pattern, sensor model, encode and
# write included) / samples. Other jobs on the machine's host inflate CPU time by up to ~35 % for the
# same command and code, so these are means over runs:
#   default 26.5 = mean of 3 runs, 23.7-29.1, load ~1.7 (IR projector part at 3 spp; with 4 spp it was
#           31.9, mean of 7 runs, 25.0-35.1); in the same periods the pipeline before issue 17 (hidden
#           preset default_ref) cost 43.1-44.8; benchmarks/render_speed.py, 2 scenes x 2 views, one run:
#           27.6 vs 54.6 (0.51x);
#   preview 11.8 (1 run; ~0.9 CPU-s of it is process start, amortised over only 2 samples);
#   paper   525 = mean of 2 runs, 504-547 (RGB 64 spp ~80 %, IR pair ~18 %).
# CPU_SECONDS_PER_SAMPLE: core-seconds of one complete sample: what a farm planner multiplies by the count.
# SECONDS_PER_SAMPLE: wall seconds with both cores busy = CPU / 2 (the dry run's estimate; its CPU
# core-hours are twice this). WALL_SECONDS_LOADED: wall seconds per sample seen in those runs.
CPU_SECONDS_PER_SAMPLE: dict[str, float] = {"preview": 11.8, "default": 26.5, "paper": 525.0}
SECONDS_PER_SAMPLE: dict[str, float] = {"preview": 5.9, "default": 13.25, "paper": 262.5}
WALL_SECONDS_LOADED: dict[str, float] = {"preview": 7.1, "default": 14.4, "paper": 400.0}
# BYTES_PER_SAMPLE: disk per full-resolution sample in the format of synth/schema.py (PXR24 depth, PNG,
# disparity derived on decode), tar headers included: benchmarks/sample_bytes.py on 4 default samples
# (2.20-3.36 MB, mean 2.79) and 2 preview samples (2.44-3.54 MB, mean 2.99), seed 11; paper not
# re-measured (same codecs, less RGB noise than default: taken as default). Format version 1 (ZIP
# float32 depth, stored disparity) was 8.6-9.1 MB per sample.
BYTES_PER_SAMPLE: dict[str, int] = {"preview": 3_000_000, "default": 2_800_000, "paper": 2_800_000}


def get(name: str) -> Quality:
    """Preset by name (or a hidden reference preset); ValueError naming the option if unknown."""
    if name in REFERENCE_PRESETS:
        return REFERENCE_PRESETS[name]
    if name not in PRESETS:
        raise ValueError(f"--quality {name!r} unknown; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def with_samples(q: Quality, rgb: int | None = None, ir: int | None = None,
                 ir_ambient: int | None = None) -> Quality:
    """A copy with other sample counts (tests use 1-8 samples); ``ir`` = the projector part."""
    return replace(q, rgb=replace(q.rgb, samples=rgb or q.rgb.samples),
                   ir=replace(q.ir, samples=ir or q.ir.samples),
                   ir_ambient=replace(q.ir_ambient, samples=ir_ambient or q.ir_ambient.samples))
