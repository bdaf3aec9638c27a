"""Semi-global aggregation of a uint8 cost volume along 4 or 8 scanline paths (torch, any device).

Per path r (Hirschmueller 2008):
    L_r(p, d) = C(p, d) + min(L'(d), L'(d-1) + P1, L'(d+1) + P1, P2(p, r)),   L' = L_r(p-r) - min_k L_r(p-r, k)
which is computed in uint8 without overflow as
    t = min(min(L'(d-1), L'(d+1)), P2 - P1) + P1;  L = C + min(t, L'(d))       (L <= C_max + P2 <= 254).
S(p, d) = sum_r L_r(p, d) accumulates in int16.

Vectorisation: one Python step processes a whole front (a row for the vertical and diagonal paths, a
column for the horizontal ones). The three downward paths (down-right diagonal, vertical, down-left
diagonal) share one step loop: their states live in one flat buffer at moving offsets (a shear), so the
diagonal predecessor of column x is found at the same buffer position as x without copying; the
same for the three upward paths. Disparity rows of the states carry a 255 sentinel at both ends so
the d-1 / d+1 neighbours need no special case at d = 0 and d = D - 1, and a path starting at the
image border reads only sentinels, which makes L = C there.
"""
from __future__ import annotations

import torch

SENTINEL = 255

# (dx, dy) of the predecessor p - r for the paths processed in one downward sweep (row by row).
DOWN_DIRECTIONS = ((-1, -1), (0, -1), (1, -1))
UP_DIRECTIONS = ((-1, 1), (0, 1), (1, 1))
HORIZONTAL_DIRECTIONS = ((-1, 0), (1, 0))


def penalty_map(intensity: torch.Tensor, direction: tuple[int, int], p1: int, p2: int,
                p2_gamma: float) -> torch.Tensor:
    """P2 - P1 per pixel for one path direction, (H, W) uint8.

    P2(p) = max(P1 + 1, round(P2 / (1 + |I(p) - I(p - r)| / p2_gamma))) with I in 8-bit grey
    levels; p2_gamma <= 0 gives the constant P2. Pixels whose predecessor is outside the image
    get the constant P2 (their value is never used).
    """
    rows, cols = intensity.shape
    if p2_gamma <= 0:
        return torch.full((rows, cols), p2 - p1, dtype=torch.uint8, device=intensity.device)
    dx, dy = direction
    img = intensity.float()
    prev = torch.full_like(img, float("nan"))
    ys_dst = slice(max(0, -dy), rows - max(0, dy))
    ys_src = slice(max(0, dy), rows - max(0, -dy))
    xs_dst = slice(max(0, -dx), cols - max(0, dx))
    xs_src = slice(max(0, dx), cols - max(0, -dx))
    # predecessor of (x, y) is (x + dx, y + dy)
    prev[ys_dst, xs_dst] = img[ys_src, xs_src]
    grad = (img - prev).abs_().nan_to_num_(0.0)
    p2_eff = (p2 / (1.0 + grad / p2_gamma)).round_().clamp_(min=p1 + 1, max=p2)
    return (p2_eff - p1).to(torch.uint8)


class _Workspace:
    """Preallocated buffers for one front shape, so the step loop allocates nothing (fresh
    allocations of a few hundred kB per op cost page faults that dominate small uint8 ops)."""

    def __init__(self, shape: tuple[int, ...], device: torch.device):
        *front, width = shape
        self.minimum = torch.empty((*front, 1), dtype=torch.uint8, device=device)
        self.relative = torch.empty(shape, dtype=torch.uint8, device=device)
        self.best = torch.empty((*front, width - 2), dtype=torch.uint8, device=device)


def _limit(t: torch.Tensor, p2_minus_p1: "torch.Tensor | int") -> None:
    """t = min(t, P2 - P1) in place, for a per-pixel (tensor) or constant (int) penalty."""
    if isinstance(p2_minus_p1, int):
        t.clamp_(max=p2_minus_p1)
    else:
        torch.minimum(t, p2_minus_p1, out=t)


def _step(prev: torch.Tensor, cost: torch.Tensor, p2_minus_p1: "torch.Tensor | int", p1: int,
          out: torch.Tensor, work: _Workspace) -> None:
    """One recurrence step for a front: prev (..., D + 2) uint8 with sentinels -> out (..., D)."""
    torch.amin(prev, -1, keepdim=True, out=work.minimum)
    lp = torch.sub(prev, work.minimum, out=work.relative)
    t = torch.minimum(lp[..., :-2], lp[..., 2:], out=work.best)
    _limit(t, p2_minus_p1)
    t += p1
    torch.minimum(t, lp[..., 1:-1], out=t)
    torch.add(t, cost, out=out)


def _vertical_sweep(cost: torch.Tensor, total: torch.Tensor, penalties: torch.Tensor, p1: int,
                    downward: bool) -> None:
    """Three paths (diagonal, vertical, anti-diagonal) stepping row by row; adds into total.

    penalties: (H, 3, W) uint8, P2 - P1 per row for the three paths in DOWN/UP_DIRECTIONS order,
    or one int for a constant P2.
    """
    rows, cols, D = cost.shape
    width = D + 2
    # flat state rows: path 0 window starts at rows - i and moves left, path 1 is fixed at
    # `mid`, path 2 starts at 2 * mid - rows + i and moves right; windows never overlap.
    mid = rows + cols + 1
    length = 2 * mid + cols + rows
    state = torch.full((length * width,), SENTINEL, dtype=torch.uint8, device=cost.device)
    row_sum = torch.empty((cols, D), dtype=torch.int16, device=cost.device)
    paths16 = torch.empty((3, cols, D), dtype=torch.int16, device=cost.device)
    work = _Workspace((3, cols, width), cost.device)
    order = range(rows) if downward else range(rows - 1, -1, -1)
    for i, y in enumerate(order):
        start = rows - i
        view = state.as_strided((3, cols, width), ((mid - start) * width, width, 1), start * width)
        _step(view, cost[y], penalties if isinstance(penalties, int) else penalties[y][..., None], p1,
              view[..., 1:-1], work)
        paths16.copy_(view[..., 1:-1])
        torch.sum(paths16, 0, out=row_sum)
        total[y] += row_sum


def _horizontal_sweep(cost: torch.Tensor, total: torch.Tensor, penalties: torch.Tensor,
                      p1: int) -> None:
    """Left-to-right and right-to-left paths stepping column by column; WRITES total (the first
    path to reach a column assigns it, the second adds), so total needs no zeroing.

    penalties: (2, W, H) uint8, P2 - P1 per column for the two paths in HORIZONTAL_DIRECTIONS order,
    or one int for a constant P2.
    """
    rows, cols, D = cost.shape
    state = torch.full((2, rows, D + 2), SENTINEL, dtype=torch.uint8, device=cost.device)
    # step i: path 0 at column i, path 1 at column cols - 1 - i
    step_penalties = penalties if isinstance(penalties, int) else \
        torch.stack((penalties[0], penalties[1].flip(0)), 1)[..., None]  # (W, 2, H, 1)
    work = _Workspace((2, rows, D + 2), cost.device)
    for i in range(cols):
        j = cols - 1 - i
        torch.amin(state, -1, keepdim=True, out=work.minimum)
        lp = torch.sub(state, work.minimum, out=work.relative)
        t = torch.minimum(lp[..., :-2], lp[..., 2:], out=work.best)
        _limit(t, step_penalties if isinstance(step_penalties, int) else step_penalties[i])
        t += p1
        torch.minimum(t, lp[..., 1:-1], out=t)
        torch.add(t[0], cost[:, i], out=state[0, :, 1:-1])
        torch.add(t[1], cost[:, j], out=state[1, :, 1:-1])
        for column, path in ((i, 0), (j, 1)):
            if i < j or (i == j and path == 0):
                total[:, column] = state[path, :, 1:-1]  # first visit of this column
            else:
                total[:, column] += state[path, :, 1:-1]


def aggregate(cost: torch.Tensor, intensity: torch.Tensor, p1: int, p2: int, p2_gamma: float,
              paths: int, total: torch.Tensor | None = None) -> torch.Tensor:
    """S = sum of path costs, int16 (H, W, D). `paths` is 4 (horizontal + vertical) or 8.

    `total` may be a preallocated int16 tensor viewed as (H, W, D) (e.g. a slice of a wider one);
    its content is overwritten.
    """
    if paths not in (4, 8):
        raise ValueError(f"paths must be 4 or 8, got {paths}")
    rows, cols, D = cost.shape
    if total is None:
        total = torch.empty((rows, cols, D), dtype=torch.int16, device=cost.device)
    constant = p2 - p1 if p2_gamma <= 0 else None  # P2 - P1 as an int: no per-pixel maps

    def maps(directions: tuple[tuple[int, int], ...], dim: int) -> "torch.Tensor | int":
        if constant is not None:
            return constant
        return torch.stack([penalty_map(intensity, r, p1, p2, p2_gamma) for r in directions], dim)

    horizontal = maps(HORIZONTAL_DIRECTIONS, 0)
    if not isinstance(horizontal, int):
        horizontal = horizontal.transpose(1, 2).contiguous()  # (2, W, H)
    _horizontal_sweep(cost, total, horizontal, p1)
    for directions, downward in ((DOWN_DIRECTIONS, True), (UP_DIRECTIONS, False)):
        penalties = maps(directions, 1)  # (H, 3, W)
        if paths == 4:  # only the vertical path of this sweep
            vertical = penalties if isinstance(penalties, int) else penalties[:, 1].contiguous()
            _vertical_only_sweep(cost, total, vertical, p1, downward)
        else:
            _vertical_sweep(cost, total, penalties if isinstance(penalties, int) else penalties.contiguous(),
                            p1, downward)
    return total


def _vertical_only_sweep(cost: torch.Tensor, total: torch.Tensor, penalties: "torch.Tensor | int", p1: int,
                         downward: bool) -> None:
    """Single vertical path stepping row by row (4-path mode); penalties (H, W) uint8 or an int."""
    rows, cols, D = cost.shape
    state = torch.full((cols, D + 2), SENTINEL, dtype=torch.uint8, device=cost.device)
    work = _Workspace((cols, D + 2), cost.device)
    order = range(rows) if downward else range(rows - 1, -1, -1)
    for y in order:
        _step(state, cost[y], penalties if isinstance(penalties, int) else penalties[y][..., None], p1,
              state[..., 1:-1], work)
        total[y] += state[:, 1:-1]
