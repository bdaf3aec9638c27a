"""The MDM network: RGB tokens + kept depth tokens -> ViT encoder -> ConvStack decoder -> metric depth.

Input: rgb (B, 3, H, W) in [0, 1] and depth (B, H, W) in metres (0 / NaN = no measurement), H and W
multiples of the patch size. Output: depth (B, H, W) in metres, same frame (RGB camera).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mdm.layers import Block, ConvStack, PatchEmbed, interpolate_pos_table, normalized_view_plane_uv
from mdm.priors import far_islands, guided_fill, harmonic_fill, masked_median, nearest_seen, push_pull_fill

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RGB_MODALITY, DEPTH_MODALITY = 1.0, 2.0  # constant added to every RGB / depth token (not learned)


@dataclass
class MDMConfig:
    """Architecture of one model size. Depth range in metres; tokens = default inference token count."""

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float = 4.0
    patch_size: int = 14
    pos_grid: int = 37  # side of the learned position table (DINOv2: 518 px / 14)
    depth_in_chans: int = 2  # 2 = (log metres, validity); 1 = log metres only (released conv_1c)
    layer_scale: float = 1.0
    neck_widths: tuple = (256, 128, 64, 32, 16)
    neck_res_blocks: tuple = (0, 2, 2, 2, 0)
    head_widths: tuple = (128, 64, 32, 16, 16)
    head_res_blocks: tuple = (0, 1, 1, 1, 0)
    resamplers: tuple = ("conv_transpose", "conv_transpose", "conv_transpose", "bilinear")
    min_depth: float = 0.05
    max_depth: float = 20.0
    tokens: int = 300  # inference token budget (rows*cols ~ tokens, aspect kept)
    depth_skip: bool = True  # decoder also sees the kept input depth at every scale (our addition)
    prior: str = "blend"  # residual over a fill of the kept depth (ours): blend | nearest | harmonic | guided | fill | median
    smooth: str = "guided"  # blend's smooth fill: "guided" (colour-guided membrane) | "harmonic" (before it)
    gate: str = "linear"  # blend gate: "linear" = clamp(c, 0, 1), starts at 0 (= smooth); "sigmoid" = legacy
    bound: float = 0.0  # blend safeguard, 0 = off: learnt log-depth change from smooth clamped to |nearest - smooth| + this
    fade: float = 0.03  # blend safeguard at inference (0 = off): on holes the learnt change x (1 - exp(-d / (fade x diagonal))),
    # d = distance (px) to the nearest seen pixel: next to measurements the smooth fill is kept
    islands: float = 0.001  # far-island filter (0 = off): seen components smaller than this share of the image
    # whose depth lies > priors.ISLAND_MARGIN beyond the fill of the rest count as holes (priors.far_islands)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MDMConfig:
        d = dict(d)
        d.setdefault("gate", "sigmoid")  # checkpoints written before the linear gate used the sigmoid one
        d.setdefault("bound", 0.0)  # ... and had no bound (0 = none)
        d.setdefault("fade", 0.0)  # ... nor the inference fade
        d.setdefault("smooth", "harmonic")  # ... and blended with the plain harmonic fill
        d.setdefault("islands", 0.0)  # ... and used every measured pixel
        for key in ("neck_widths", "neck_res_blocks", "head_widths", "head_res_blocks", "resamplers"):
            d[key] = tuple(d[key])
        return cls(**d)


SIZES: dict[str, MDMConfig] = {
    # tiny: trains on 2 CPU cores in minutes (~6 M parameters); see README for the measured rate.
    "tiny": MDMConfig("tiny", 192, 6, 3, neck_widths=(96, 48, 32, 16, 8), neck_res_blocks=(0, 1, 1, 1, 0),
                      head_widths=(48, 24, 16, 8, 8), head_res_blocks=(0, 1, 1, 0, 0)),
    "small": MDMConfig("small", 384, 12, 6),
    "base": MDMConfig("base", 768, 12, 12, neck_widths=(384, 192, 96, 48, 24),
                      head_widths=(192, 96, 48, 24, 24)),
    "large": MDMConfig("large", 1024, 24, 16, neck_widths=(512, 256, 128, 64, 32),
                       head_widths=(256, 128, 64, 32, 32)),
}


def model_config(name: str, **overrides) -> MDMConfig:
    if name not in SIZES:
        raise ValueError(f"unknown model size {name!r}; choose one of {', '.join(SIZES)}")
    return MDMConfig.from_dict(SIZES[name].to_dict() | overrides)


def depth_features(depth: torch.Tensor, cfg: MDMConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, H, W) metres -> features (B, C, H, W) = [log of depth clamped to the range, 0 where invalid;
    validity], and the validity mask (B, H, W) (finite and > 0)."""
    valid = torch.isfinite(depth) & (depth > 0)
    logd = torch.where(valid, depth, torch.ones_like(depth)).clamp(cfg.min_depth, cfg.max_depth).log()
    logd = torch.where(valid, logd, torch.zeros_like(logd))
    chans = [logd, valid.to(logd.dtype)][: cfg.depth_in_chans]
    return torch.stack(chans, dim=1), valid


def patch_valid_fraction(valid: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, H, W) bool -> (B, rows*cols) fraction of valid pixels per patch (row-major)."""
    frac = F.avg_pool2d(valid[:, None].float(), patch, patch)
    return frac.flatten(1)


def token_grid(height: int, width: int, tokens: int) -> tuple[int, int]:
    """Rows x cols of a token grid with about ``tokens`` cells and the aspect ratio of H x W."""
    rows = max(1, round(math.sqrt(tokens * height / width)))
    cols = max(1, round(math.sqrt(tokens * width / height)))
    return rows, cols


class MDMEncoder(nn.Module):
    """ViT over [cls, all RGB tokens, kept depth tokens]; depth tokens are dropped, not replaced."""

    def __init__(self, cfg: MDMConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.embed_dim
        self.rgb_embed = PatchEmbed(3, d, cfg.patch_size)
        self.depth_embed = PatchEmbed(cfg.depth_in_chans, d, cfg.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + cfg.pos_grid ** 2, d))
        self.blocks = nn.ModuleList(Block(d, cfg.num_heads, cfg.mlp_ratio, cfg.layer_scale)
                                    for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.register_buffer("rgb_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("rgb_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def tokens(self, rgb: torch.Tensor, depth_feat: torch.Tensor, keep: torch.Tensor):
        """Build the padded sequence (B, 1+N+K, D) and its key mask (None when nothing is padded)."""
        b, _, h, w = rgb.shape
        rows, cols = h // self.cfg.patch_size, w // self.cfg.patch_size
        pos = interpolate_pos_table(self.pos_embed[0, 1:], rows, cols)
        rgb_tok = self.rgb_embed((rgb - self.rgb_mean) / self.rgb_std) + pos + RGB_MODALITY
        dep_tok = self.depth_embed(depth_feat) + pos + DEPTH_MODALITY
        counts = keep.sum(1)
        k = int(counts.max()) if b else 0
        order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :k]  # kept patches first
        dep_tok = torch.gather(dep_tok, 1, order[..., None].expand(-1, -1, dep_tok.shape[-1]))
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(b, -1, -1)
        x = torch.cat([cls, rgb_tok, dep_tok], dim=1)
        if bool((counts == k).all()):
            return x, None
        real = torch.arange(k, device=keep.device)[None] < counts[:, None]
        head = torch.ones(b, 1 + rows * cols, dtype=torch.bool, device=keep.device)
        return x, torch.cat([head, real], dim=1)

    def forward(self, rgb: torch.Tensor, depth_feat: torch.Tensor, keep: torch.Tensor):
        """-> (cls (B, D), RGB tokens (B, N, D)) after the final norm."""
        x, key_mask = self.tokens(rgb, depth_feat, keep)
        for blk in self.blocks:
            x = blk(x, key_mask)
        x = self.norm(x)
        n = (rgb.shape[-2] // self.cfg.patch_size) * (rgb.shape[-1] // self.cfg.patch_size)
        return x[:, 0], x[:, 1:1 + n]


class MDMDecoder(nn.Module):
    """RGB tokens + cls -> 1x1 projection -> neck fed with UV (and the depth skip) at grid x1..x16 ->
    head -> log-depth residual over the prior (+ the gate and trust logits with ``blend``; see ``MDM``),
    at 16x the token grid."""

    def __init__(self, cfg: MDMConfig):
        super().__init__()
        self.cfg = cfg
        n = len(cfg.neck_widths)
        extra = 2 + (skip_channels(cfg) if cfg.depth_skip else 0)  # UV (+ skip: priors, seen share)
        self.proj = nn.Conv2d(cfg.embed_dim, cfg.embed_dim, 1)
        self.neck = ConvStack([cfg.embed_dim + extra] + [extra] * (n - 1), cfg.neck_widths,
                              cfg.neck_res_blocks, cfg.resamplers)
        self.head = ConvStack(cfg.neck_widths, cfg.head_widths, cfg.head_res_blocks, cfg.resamplers,
                              out_dim=3 if cfg.prior == "blend" else 1)

    def forward(self, cls: torch.Tensor, tokens: torch.Tensor, rows: int, cols: int,
                skip: torch.Tensor | None = None) -> torch.Tensor:
        """``skip`` (B, C, H, W) = [prior(s) - image anchor (log m), seen share] (``depth_skip``)."""
        b, _, d = tokens.shape
        x = self.proj(tokens.transpose(1, 2).reshape(b, d, rows, cols)) + cls[:, :, None, None]
        feeds = []
        for level in range(len(self.cfg.neck_widths)):
            size = (rows << level, cols << level)
            extra = normalized_view_plane_uv(*size, device=x.device, dtype=x.dtype)[None].expand(b, -1, -1, -1)
            if self.cfg.depth_skip:
                extra = torch.cat([extra, F.adaptive_avg_pool2d(skip, size).to(x.dtype)], dim=1)
            feeds.append(torch.cat([x, extra], dim=1) if level == 0 else extra)
        return self.head(self.neck(feeds))[-1].float()


PRIORS = ("blend", "nearest", "harmonic", "guided", "fill", "median")
SMOOTH_FILLS = ("guided", "harmonic")
GATES = ("linear", "sigmoid")
TRUST_INIT = -4.0  # initial trust logit of ``blend``: residual x 0.018 on measured pixels
GATE_INIT = 0.25  # initial weight of the nearest fill of the legacy ``gate="sigmoid"`` blend
# The default ``gate="linear"`` starts at weight 0 with a zero residual: the untrained model *is* the
# smooth fill (``smooth``: the colour-guided membrane, the strongest classical fill on our rendered and real
# data), and learning moves away from it only where the gradient says so.


@torch.no_grad()
def seen_distance(seen: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) 0/1 -> Euclidean distance (px) of every pixel to the nearest seen one (0 on seen pixels;
    the image diagonal where nothing is seen). scipy's exact transform, on the CPU (the mask is copied there)."""
    from scipy import ndimage

    mask = (seen[:, 0] > 0).cpu().numpy()
    out = np.full(mask.shape, math.hypot(*mask.shape[-2:]), np.float32)
    for b in range(mask.shape[0]):
        if mask[b].any():
            out[b] = ndimage.distance_transform_edt(~mask[b])
    return torch.from_numpy(out)[:, None].to(seen.device, seen.dtype)


def skip_channels(cfg: MDMConfig) -> int:
    """Channels of the decoder's depth skip: one per prior map, plus the seen share."""
    return 3 if cfg.prior == "blend" else 2


class MDM(nn.Module):
    """Masked depth model: depth = exp(prior + residual), metres.

    ``prior`` (log metres, at the output resolution) is computed from the *kept* input depth only
    (``mdm.priors``): ``"blend"`` (default) = g * nearest + (1 - g) * smooth with a per-pixel gate
    g = clamp(second decoder channel, 0, 1) (``gate="linear"``; legacy checkpoints: sigmoid), so the
    network picks, from the RGB, where a hole should keep
    the sharp edge of the nearest surface and where it should be interpolated smoothly; on seen pixels
    (where both priors equal the measurement) the residual is scaled by a per-pixel trust
    sigmoid(third channel), initialised near 0, so measurements pass through until the network has
    learnt which ones to correct (an untrained residual would otherwise add noise to them). Residual and
    gate start at exactly 0 (zero output weights), so the untrained model *is* the smooth fill (holes) and
    the measurement (seen pixels). ``smooth`` = ``"guided"`` (default): the membrane fill whose links are
    weakened across colour edges of the RGB (``priors.guided_fill``), so depth edges that show in the image
    stay sharp; ``"harmonic"``: the plain membrane (checkpoints written before ``smooth`` existed).
    ``islands`` > 0 (default 0.001; 0 in checkpoints written before it): measured components smaller than
    that share of the image whose depth lies beyond the fill of the rest (``priors.far_islands``) count as
    holes for the prior, the decoder skip and the trust; the encoder still sees them.
    ``bound`` > 0 (off by default) also clamps the learnt log-depth change
    from smooth to |nearest - smooth| + bound, so where both fills agree it cannot move far; ``"nearest"``,
    ``"harmonic"``, ``"guided"``, ``"fill"`` (push-pull) = that fill alone; ``"median"`` = the image's median kept
    depth (the network predicts everything, as in the released model). The residual (and gate) are the
    decoder's output, bilinearly resized. ``keep`` (B, rows*cols) bool selects the depth patches the
    model sees (encoder tokens, decoder skip and prior); default: every patch with a valid pixel."""

    def __init__(self, cfg: MDMConfig):
        super().__init__()
        if cfg.prior not in PRIORS:
            raise ValueError(f"unknown prior {cfg.prior!r}; choose one of {', '.join(PRIORS)}")
        if cfg.smooth not in SMOOTH_FILLS:
            raise ValueError(f"unknown smooth fill {cfg.smooth!r}; choose one of {', '.join(SMOOTH_FILLS)}")
        if cfg.gate not in GATES:
            raise ValueError(f"unknown blend gate {cfg.gate!r}; choose one of {', '.join(GATES)}")
        self.cfg = cfg
        self.encoder = MDMEncoder(cfg)
        self.decoder = MDMDecoder(cfg)

    def forward(self, rgb: torch.Tensor, depth: torch.Tensor, keep: torch.Tensor | None = None,
                full_depth: torch.Tensor | None = None, full_rgb: torch.Tensor | None = None) -> torch.Tensor:
        """rgb (B, 3, H, W) in [0, 1], depth (B, H, W) metres on the same grid (H, W multiples of the
        patch) -> depth (B, H, W) metres; with ``full_depth`` (B, H', W') and ``full_rgb`` (B, 3, H', W')
        the prior and the output are at that resolution instead (inference at the input's own resolution)."""
        p = self.cfg.patch_size
        rows, cols = rgb.shape[-2] // p, rgb.shape[-1] // p
        feat, valid = depth_features(depth, self.cfg)
        if keep is None:
            keep = patch_valid_fraction(valid, p) > 0
        cls, tokens = self.encoder(rgb, feat.to(rgb.dtype), keep)
        kept = keep.view(-1, 1, rows, cols).float()
        seen = valid[:, None].float() * F.interpolate(kept, size=depth.shape[-2:], mode="nearest")
        anchor = masked_median(feat[:, :1], seen)
        seen = self.without_far_islands(feat[:, :1], seen, anchor)
        priors = self.priors(feat[:, :1], seen, anchor, rgb)
        skip = torch.cat([q - anchor for q in priors] + [seen], dim=1) if self.cfg.depth_skip else None
        out = self.decoder(cls, tokens, rows, cols, skip)
        if full_depth is not None:
            if full_rgb is None:
                full_rgb = F.interpolate(rgb, size=full_depth.shape[-2:], mode="bilinear", align_corners=False)
            feat, valid = depth_features(full_depth, self.cfg)
            seen = valid[:, None].float() * F.interpolate(kept, size=full_depth.shape[-2:], mode="nearest")
            seen = self.without_far_islands(feat[:, :1], seen, anchor)
            priors = self.priors(feat[:, :1], seen, anchor, full_rgb)
        out = F.interpolate(out, size=priors[0].shape[-2:], mode="bilinear", align_corners=False)
        prior, residual = priors[0], out[:, :1]
        if self.cfg.prior == "blend":
            trust = torch.sigmoid(out[:, 2:3])
            if self.cfg.gate == "sigmoid":  # legacy checkpoints
                gate = torch.sigmoid(out[:, 1:2])
            else:  # weight 0 = the smooth fill exactly; clamp's gradient passes at the bounds, so 0 is not stuck
                gate = out[:, 1:2].clamp(0.0, 1.0)
            residual = residual * (1 - seen + seen * trust)
            if self.cfg.fade > 0 and not self.training:
                fade = 1 - torch.exp(-seen_distance(seen) / (self.cfg.fade * math.hypot(*seen.shape[-2:])))
                gate, residual = gate * fade, residual * (seen + (1 - seen) * fade)
            if self.cfg.bound > 0:  # safeguard: where the two fills agree, the learnt part can move little
                spread = (priors[0] - priors[1]).abs() + self.cfg.bound
                change = gate * (priors[0] - priors[1]) + residual
                prior, residual = priors[1], torch.minimum(torch.maximum(change, -spread), spread)
            else:
                prior = priors[1] + gate * (priors[0] - priors[1])
        lo, hi = math.log(self.cfg.min_depth), math.log(self.cfg.max_depth * 1.5)
        return torch.exp((prior + residual).clamp(lo, hi))[:, 0]

    def without_far_islands(self, logd: torch.Tensor, seen: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
        """``seen`` (B, 1, H, W) 0/1 with the far islands of ``cfg.islands`` (``priors.far_islands``) set to 0:
        the prior, the decoder skip and the trust treat them as holes (the encoder still sees them)."""
        if self.cfg.islands <= 0:
            return seen
        islands = far_islands(logd, seen, anchor, fraction=self.cfg.islands)
        return seen * (~islands).to(seen.dtype)

    def priors(self, logd: torch.Tensor, seen: torch.Tensor, anchor: torch.Tensor, rgb: torch.Tensor
               ) -> list[torch.Tensor]:
        """(B, 1, H, W) log-metre prior maps from the seen pixels (``cfg.prior``; ``rgb`` (B, 3, H, W) in
        [0, 1] guides ``guided``): [nearest, smooth] for ``blend``, else the one fill (the flat median for
        ``median``)."""
        fills = {"nearest": nearest_seen, "harmonic": harmonic_fill, "fill": push_pull_fill,
                 "guided": lambda v, w, f: guided_fill(v, w, f, rgb)}
        if self.cfg.prior == "blend":
            return [nearest_seen(logd, seen, anchor), fills[self.cfg.smooth](logd, seen, anchor)]
        if self.cfg.prior in fills:
            return [fills[self.cfg.prior](logd, seen, anchor)]
        return [anchor.expand(-1, -1, *seen.shape[-2:])]

    @torch.no_grad()
    def predict(self, rgb: torch.Tensor, depth: torch.Tensor, tokens: int | None = None) -> torch.Tensor:
        """Any resolution: rgb (B, 3, H, W) in [0, 1], depth (B, H, W) metres -> (B, H, W) metres.

        The network sees the inputs resized to a token grid of about ``tokens`` cells (default: the
        config's) with the same aspect ratio (RGB antialiased bilinear, depth nearest); the prior and
        the output are at the input resolution."""
        h, w = rgb.shape[-2:]
        rows, cols = token_grid(h, w, tokens or self.cfg.tokens)
        size = (rows * self.cfg.patch_size, cols * self.cfg.patch_size)
        rgb_s = F.interpolate(rgb, size=size, mode="bilinear", antialias=True, align_corners=False)
        depth = torch.nan_to_num(depth, nan=0.0, posinf=0.0, neginf=0.0)
        depth_s = F.interpolate(depth[:, None], size=size, mode="nearest-exact")[:, 0]
        valid = (depth > 0).float()[:, None]
        keep = (F.adaptive_avg_pool2d(valid, (rows, cols)) > 0).flatten(1)  # any valid pixel in the patch
        return self.forward(rgb_s, depth_s, keep, full_depth=depth, full_rgb=rgb)


def init_weights(model: MDM, generator: torch.Generator) -> None:
    """Initialise every parameter from ``generator`` (no global RNG): truncated normal 0.02 for linear
    layers and tokens, Kaiming for convs, equal transpose-conv taps, head output near 0 (= the prior)."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02, generator=generator)
            nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    enc = model.encoder
    for embed in (enc.rgb_embed, enc.depth_embed):  # like a linear layer on the flattened patch
        w = embed.proj.weight
        nn.init.trunc_normal_(w.view(w.shape[0], -1), std=0.02, generator=generator)
    nn.init.trunc_normal_(enc.cls_token, std=0.02, generator=generator)
    nn.init.trunc_normal_(enc.pos_embed, std=0.02, generator=generator)
    for blk in enc.blocks:
        nn.init.constant_(blk.ls1.gamma, model.cfg.layer_scale)
        nn.init.constant_(blk.ls2.gamma, model.cfg.layer_scale)
    for stack in (model.decoder.neck, model.decoder.head):
        for resampler in stack.resamplers:
            resampler.tie_taps()
    out = model.decoder.head.out_conv
    with torch.no_grad():
        out.weight.mul_(0.1)
        out.bias.zero_()
        if model.cfg.prior == "blend" and model.cfg.gate == "sigmoid":
            out.bias[1] = math.log(GATE_INIT / (1 - GATE_INIT))
        elif model.cfg.prior == "blend":
            out.weight[:2].zero_()  # residual 0 and gate 0: the untrained model outputs the smooth fill
        if model.cfg.prior == "blend":
            out.bias[2] = TRUST_INIT


def build_model(cfg: MDMConfig, seed: int = 0) -> MDM:
    model = MDM(cfg)
    init_weights(model, torch.Generator().manual_seed(seed))
    return model
