"""Memory and CPU threads of the matcher: huge-page-backed volumes and row-band worker threads.

Torch's intra-op (OpenMP) threads do not pay off for SGM on the CPU: the aggregation issues ~10^4
ops of 10-200 us each, and every op then waits at an OpenMP barrier (sleeping workers with
OMP_WAIT_POLICY=PASSIVE, spinning ones that collapse when other processes share the cores).
The matcher therefore runs torch with one intra-op thread, and for large volumes with
torch.get_num_threads() = N > 1 it runs the stages made of few large ops (census, cost volume,
winners, refinement) on N row bands in N Python threads; torch releases the GIL inside every op,
so the threads overlap. Results are identical for any N: the bands are independent and no float
sum changes its order.
"""
from __future__ import annotations

import contextlib
import math
import mmap
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import torch

HUGE_PAGES = hasattr(mmap, "MADV_HUGEPAGE")  # Linux: big CPU volumes on transparent huge pages
HUGE_PAGE_MIN_BYTES = 8 << 20


def volume_buffer(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Uninitialised tensor for a large buffer (cost and aggregated volumes, refinement planes).

    On Linux CPUs it is backed by private anonymous memory advised for transparent huge pages: with
    4 kB pages, faulting in a fresh 177 MB int16 volume took 64 ms and the column-wise horizontal
    sweep paid TLB misses on every row (9 ms with 2 MB pages). Same tensor semantics otherwise; the
    memory is returned to the system when the tensor is freed.
    """
    nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    if device.type != "cpu" or not HUGE_PAGES or nbytes < HUGE_PAGE_MIN_BYTES:
        return torch.empty(shape, dtype=dtype, device=device)
    memory = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    memory.madvise(mmap.MADV_HUGEPAGE)
    return torch.frombuffer(memory, dtype=dtype).view(shape)


PARALLEL_MIN_ENTRIES = 1 << 24  # smaller volumes: the ops are too small to overlap (GIL handoffs)


def cpu_workers(device: torch.device, volume_entries: int) -> int:
    """Worker threads for the row-band stages: torch.get_num_threads() on the CPU for a cost volume
    of at least PARALLEL_MIN_ENTRIES (H * W * D) entries, else 1; 1 on CUDA (GPU kernels are
    already parallel). Row-band threads around the aggregation's small ops made a 720 x 960 x 128
    match slower, not faster, whenever other processes kept the cores busy (GIL hand-offs), and
    doubled the time of a 384 x 288 x 16 one, so the aggregation and small volumes stay serial."""
    if device.type != "cpu" or volume_entries < PARALLEL_MIN_ENTRIES:
        return 1
    return max(1, torch.get_num_threads())


@contextlib.contextmanager
def one_intra_op_thread(device: torch.device) -> Iterator[None]:
    """While the block runs on the CPU, torch ops use one thread each (process-wide setting, restored
    afterwards): the matcher's parallelism, if any, comes from its own worker threads."""
    if device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def row_bands(rows: int, parts: int) -> list[tuple[int, int]]:
    """[y0, y1) bands splitting rows into at most `parts` near-equal non-empty pieces."""
    parts = max(1, min(parts, rows))
    edges = [rows * k // parts for k in range(parts + 1)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def run_parallel(tasks: list[Callable[[], None]]) -> None:
    """Run the tasks concurrently (the first in the calling thread, the rest in worker threads,
    which inherit the caller's inference and grad modes: those are thread-local in torch); the
    first exception is re-raised after all tasks finished."""
    if len(tasks) == 1:
        tasks[0]()
        return
    inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

    def in_caller_modes(task: Callable[[], None]) -> None:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            task()

    with ThreadPoolExecutor(max_workers=len(tasks) - 1) as pool:
        futures = [pool.submit(in_caller_modes, task) for task in tasks[1:]]
        error: BaseException | None = None
        try:
            tasks[0]()
        except BaseException as exc:  # noqa: BLE001 - re-raised below once the workers are done
            error = exc
        for future in futures:
            try:
                future.result()
            except BaseException as exc:  # noqa: BLE001
                error = error or exc
    if error is not None:
        raise error


def for_row_bands(rows: int, workers: int, work: Callable[[int, int], None]) -> None:
    """work(y0, y1) on `workers` row bands concurrently."""
    run_parallel([lambda a=a, b=b: work(a, b) for a, b in row_bands(rows, workers)])
