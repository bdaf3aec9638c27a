"""Semi-global aggregation of a uint8 cost volume along 4 or 8 scanline paths (torch, any device).

Per path r (Hirschmueller 2008):
    L_r(p, d) = C(p, d) + min(L'(d), L'(d-1) + P1, L'(d+1) + P1, P2(p, r)),   L' = L_r(p-r) - min_k L_r(p-r, k)
which is computed in uint8 without overflow as
    t = min(min(L'(d-1), L'(d+1)), P2 - P1) + P1;  L = C + min(t, L'(d))       (L <= C_max + P2 <= 254).
S(p, d) = sum_r L_r(p, d) accumulates in int16.

Vectorisation: one Python step processes a whole front (a row for the vertical and diagonal paths, a
column for the horizontal ones), and the two directions of an axis share the step loop: the
left-to-right and right-to-left paths form one (2, H, D + 2) front; the three downward paths
(down-right diagonal, vertical, down-left diagonal) step through row i while the three upward ones
step through row H - 1 - i, as one (2, 3, W, D + 2) front. The path states live in one flat buffer
at moving offsets (a shear), so the diagonal predecessor of column x is found at the same buffer
position as x without copying. Disparity rows of the states carry a 255 sentinel at both ends so
the d-1 / d+1 neighbours need no special case at d = 0 and d = D - 1 (min L <= C_max and
C_max + P2 <= 254, so 255 - min L > P2 - P1: a sentinel never wins), and a path starting at the
image border reads only sentinels, which makes L = C there.

The per-path minimum min_k L_r(p, k) is taken from the int16 copy of L that the accumulation needs
anyway (torch's inner-dimension reduction is vectorised for int16 rows of 128 but not for uint8),
and kept, sheared like the states, for the next step.
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


class _Front:
    """Preallocated buffers for one front shape (..., D + 2), so the step loop allocates nothing
    (fresh allocations of a few hundred kB per op cost page faults that dominate small uint8 ops)."""

    def __init__(self, shape: tuple[int, ...], device: torch.device):
        *front, width = shape
        self.relative = torch.empty(shape, dtype=torch.uint8, device=device)
        self.best = torch.empty((*front, width - 2), dtype=torch.uint8, device=device)
        self.wide = torch.empty((*front, width - 2), dtype=torch.int16, device=device)
        self.minimum = torch.empty((*front, 1), dtype=torch.int16, device=device)


def _transition(prev: torch.Tensor, minimum: torch.Tensor, p2_minus_p1: torch.Tensor | int, p1: torch.Tensor,
                work: _Front) -> torch.Tensor:
    """min(L'(d), min(L'(d-1), L'(d+1), P2 - P1) + P1) for prev (..., D + 2) uint8 with sentinels and
    its minimum (..., 1) uint8 -> work.best (..., D) uint8 (the new L minus the cost). p1: 0-dim uint8
    tensor (a Python int operand costs a tensor wrap per call)."""
    lp = torch.sub(prev, minimum, out=work.relative)
    t = torch.minimum(lp[..., :-2], lp[..., 2:], out=work.best)
    if isinstance(p2_minus_p1, int):
        t.clamp_(max=p2_minus_p1)
    else:
        torch.minimum(t, p2_minus_p1, out=t)
    t += p1
    return torch.minimum(t, lp[..., 1:-1], out=t)


def _widen(state: torch.Tensor, minimum: torch.Tensor, work: _Front) -> torch.Tensor:
    """int16 copy of the new L (state without sentinels) into work.wide, and its minimum over d
    into `minimum` (uint8, for the next step). Returns work.wide."""
    work.wide.copy_(state[..., 1:-1])
    torch.amin(work.wide, -1, keepdim=True, out=work.minimum)
    minimum.copy_(work.minimum)
    return work.wide


def _horizontal_sweep(cost: torch.Tensor, total: torch.Tensor, penalties: torch.Tensor | int,
                      p1: int) -> None:
    """Left-to-right and right-to-left paths stepping column by column; WRITES total (the first
    path to reach a column assigns it, the second adds), so total needs no zeroing.

    penalties: (2, W, H) uint8, P2 - P1 per column for the two paths in HORIZONTAL_DIRECTIONS order,
    or one int for a constant P2.
    """
    rows, cols, D = cost.shape
    state = torch.full((2, rows, D + 2), SENTINEL, dtype=torch.uint8, device=cost.device)
    minimum = torch.full((2, rows, 1), SENTINEL, dtype=torch.uint8, device=cost.device)
    # step i: path 0 at column i, path 1 at column cols - 1 - i
    step_penalties = [penalties] * cols if isinstance(penalties, int) else \
        torch.stack((penalties[0], penalties[1].flip(0)), 1)[..., None].unbind(0)  # W x (2, H, 1)
    work = _Front((2, rows, D + 2), cost.device)
    penalty_p1 = torch.tensor(p1, dtype=torch.uint8, device=cost.device)
    # views made once: indexing costs about as much as a small op
    cost_columns, total_columns = cost.unbind(1), total.unbind(1)
    t_paths, wide_paths = work.best.unbind(0), work.wide.unbind(0)
    state_paths = state[..., 1:-1].unbind(0)
    for i in range(cols):
        j = cols - 1 - i
        _transition(state, minimum, step_penalties[i], penalty_p1, work)
        torch.add(t_paths[0], cost_columns[i], out=state_paths[0])
        torch.add(t_paths[1], cost_columns[j], out=state_paths[1])
        _widen(state, minimum, work)
        for column, path in ((i, 0), (j, 1)):
            if i < j or (i == j and path == 0):
                total_columns[column].copy_(wide_paths[path])  # first visit of this column
            else:
                total_columns[column].add_(wide_paths[path])


def _vertical_sweeps(cost: torch.Tensor, total: torch.Tensor, penalties: torch.Tensor | int, p1: int,
                     diagonals: bool) -> None:
    """The downward paths stepping through rows 0 .. H-1 and the upward ones through rows H-1 .. 0 in
    one loop; adds into total. diagonals: the three paths of DOWN/UP_DIRECTIONS each way (8-path
    mode), else only the vertical ones (4-path mode).

    penalties: (H, 2, n, W, 1) uint8, P2 - P1 at step i for the downward paths (row i) and the
    upward ones (row H - 1 - i), n = 3 or 1 paths (see _vertical_penalties), or one int for a
    constant P2.
    """
    rows, cols, D = cost.shape
    width = D + 2
    n = 3 if diagonals else 1
    # Flat state columns of one sweep: at step i, path k's window starts at rows - i + k * (gap + i),
    # i.e. path 0 moves left by one column per step (its predecessor x - 1 is where x was),
    # path 1 stays, path 2 moves right; the windows never overlap and columns entering a window
    # still hold sentinels.
    gap = cols + 1
    length = rows + 2 * (gap + rows) + cols if diagonals else cols
    state = torch.full((2 * length * width,), SENTINEL, dtype=torch.uint8, device=cost.device)
    minima = torch.full((2 * length,), SENTINEL, dtype=torch.uint8, device=cost.device)
    row_sums = torch.empty((2, cols, D), dtype=torch.int16, device=cost.device)
    work = _Front((2, n, cols, width), cost.device)
    penalty_p1 = torch.tensor(p1, dtype=torch.uint8, device=cost.device)
    step_penalties = [penalties] * rows if isinstance(penalties, int) else penalties.unbind(0)
    # views made once: indexing costs about as much as a small op
    cost_rows, total_rows = cost.unbind(0), total.unbind(0)
    t_sweeps, wide_sweeps, sum_sweeps = work.best.unbind(0), work.wide.unbind(0), row_sums.unbind(0)
    for i in range(rows):
        y_up = rows - 1 - i
        start, path_stride = (rows - i, gap + i) if diagonals else (0, 0)
        view = state.as_strided((2, n, cols, width), (length * width, path_stride * width, width, 1),
                                start * width)
        minimum = minima.as_strided((2, n, cols, 1), (length, path_stride, 1, 1), start)
        _transition(view, minimum, step_penalties[i], penalty_p1, work)
        torch.add(t_sweeps[0], cost_rows[i], out=view[0, :, :, 1:-1])
        torch.add(t_sweeps[1], cost_rows[y_up], out=view[1, :, :, 1:-1])
        _widen(view, minimum, work)
        if n == 1:
            total_rows[i].add_(wide_sweeps[0][0])
            total_rows[y_up].add_(wide_sweeps[1][0])
        else:
            torch.sum(work.wide, 1, out=row_sums)
            total_rows[i].add_(sum_sweeps[0])
            total_rows[y_up].add_(sum_sweeps[1])


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
    if p2_gamma <= 0:  # constant P2: P2 - P1 as an int, no per-pixel maps
        _horizontal_sweep(cost, total, p2 - p1, p1)
        _vertical_sweeps(cost, total, p2 - p1, p1, diagonals=paths == 8)
        return total

    def maps(directions: tuple[tuple[int, int], ...]) -> torch.Tensor:
        return torch.stack([penalty_map(intensity, r, p1, p2, p2_gamma) for r in directions])

    _horizontal_sweep(cost, total, maps(HORIZONTAL_DIRECTIONS).transpose(1, 2).contiguous(), p1)  # (2, W, H)
    _vertical_sweeps(cost, total, _vertical_penalties(maps, paths), p1, diagonals=paths == 8)
    return total


def _vertical_penalties(maps, paths: int) -> torch.Tensor:
    """(H, 2, n, W, 1) uint8 P2 - P1 per step of _vertical_sweeps: [i, 0] = the downward paths at
    row i, [i, 1] = the upward paths at row H - 1 - i (n = 3 paths each, 1 in 4-path mode)."""
    down = maps(DOWN_DIRECTIONS if paths == 8 else DOWN_DIRECTIONS[1:2])  # (n, H, W)
    up = maps(UP_DIRECTIONS if paths == 8 else UP_DIRECTIONS[1:2]).flip(1)
    return torch.stack((down, up), 0).permute(2, 0, 1, 3)[..., None].contiguous()
