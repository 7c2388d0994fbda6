"""One memstudio command on many processes: torch.distributed, launched by ``torchrun``.

``torchrun`` starts one process per GPU (or per CPU slot) and tells each its place through the environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT`` or its own rendezvous store).
:func:`session` reads that, joins the process group (NCCL on CUDA, gloo on the CPU) and puts each process on
the GPU of its local rank. Without torchrun it returns a one-process context and every helper here is the
identity, so a command behaves exactly as before.

The helpers cut work into *rounds* of ``world_size × per_rank`` consecutive items, rank r taking the r-th
block of each round: gathering a round in rank order is the input order, so rank 0 can write results as they
arrive and an interrupted output is always a prefix of the input, which is what makes a run resumable. A
rank that fails or dies makes the others stop with a :class:`RankLostError` naming it: each rank records the
collective it reached in the rendezvous store (hosted by torchrun's agent, so it outlives the workers), and
the survivors answer a roll call there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist

from memstudio.core.device import default_device
from memstudio.core.errors import MemstudioError

T = TypeVar("T")

#: What torchrun sets in every worker; all three present means "launched by torchrun".
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
#: Seconds a collective waits for a slow rank before giving up (``MEMSTUDIO_DIST_TIMEOUT`` overrides it).
DEFAULT_TIMEOUT_S = 1800
_PROGRESS_KEY = "memstudio/reached/{rank}"
_ALIVE_KEY = "memstudio/alive/{rank}"
#: Seconds the survivors of a lost rank wait for each other's answer before naming who is missing.
ROLL_CALL_S = 1.0
_stopping = False


class RankLostError(MemstudioError):
    """Another rank failed, died or stopped answering; this one stops too, keeping what was written."""


@dataclass
class DistContext:
    """Where this process stands: its rank among ``world_size`` and the device it computes on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None
    _step: int = 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def label(self) -> str:
        """``"rank 1: "`` in a distributed run, empty otherwise (messages stay as they were in one process)."""
        return f"rank {self.rank}: " if self.is_distributed else ""


def launched_by_torchrun(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return all(name in env for name in TORCHRUN_VARIABLES)


def rank_device(requested: torch.device | None, local_rank: int) -> torch.device:
    """One GPU per local rank: ``cuda`` (or any ``cuda:i``) becomes ``cuda:LOCAL_RANK``; the CPU stays."""
    device = requested if requested is not None else default_device()
    if device.type == "cuda":
        return torch.device("cuda", local_rank)
    return device


def _timeout() -> timedelta:
    raw = os.environ.get("MEMSTUDIO_DIST_TIMEOUT", "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError as exc:
        raise MemstudioError(f"MEMSTUDIO_DIST_TIMEOUT={raw!r} is not a number of seconds") from exc
    return timedelta(seconds=seconds)


def init(device: torch.device | None = None) -> DistContext:
    """Join the process group torchrun describes, or return a one-process context when not under torchrun."""
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return DistContext(device=device if device is not None else default_device())
    rank, world, local = (int(os.environ[name]) for name in TORCHRUN_VARIABLES)
    target = rank_device(device, local)
    backend = "nccl" if target.type == "cuda" else "gloo"
    if target.type == "cuda":
        if local >= torch.cuda.device_count():
            raise MemstudioError(
                f"rank {rank}: local rank {local} has no GPU (this node has {torch.cuda.device_count()}); "
                "start at most one process per GPU (--nproc-per-node)"
            )
        torch.cuda.set_device(target)
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=_timeout())
    global _stopping
    _stopping = False
    return DistContext(rank, world, local, target, backend)


def shutdown(ctx: DistContext, clean: bool) -> None:
    """Leave the group; after success wait for every rank first, so none exits while another still writes."""
    if not ctx.is_distributed or not dist.is_initialized():
        return
    if clean:
        with collective(ctx, "the final barrier"):
            _barrier(ctx)
    dist.destroy_process_group()


@contextlib.contextmanager
def session(device: torch.device | None = None) -> Iterator[DistContext]:
    """``with session(device) as ctx:`` — init, then a barrier-protected shutdown (none after a failure)."""
    ctx = init(device)
    restore = _stop_on_sigterm(ctx)
    clean = False
    try:
        yield ctx
        clean = True
    finally:
        try:
            shutdown(ctx, clean)
        finally:
            restore()


def _stop_on_sigterm(ctx: DistContext) -> Callable[[], None]:
    """torchrun stops the survivors of a failed rank with SIGTERM: turn it into an orderly, explained stop."""
    if not ctx.is_distributed:
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        global _stopping
        if _stopping:
            return  # already stopping with an explained error; let it finish
        _stopping = True
        raise RankLostError(f"rank {ctx.rank}: stopped by torchrun because another rank failed{_laggards(ctx)}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (a caller embedding memstudio): keep the default stop
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, previous)


def _store() -> dist.Store | None:
    # The default store is the rendezvous store torchrun's agent hosts, so it outlives a dead worker.
    getter = getattr(dist.distributed_c10d, "_get_default_store", None)
    try:
        return getter() if getter is not None else None
    except (RuntimeError, ValueError):
        return None


def _mark(ctx: DistContext) -> None:
    store = _store()
    if store is not None:
        with contextlib.suppress(RuntimeError):
            store.set(_PROGRESS_KEY.format(rank=ctx.rank), str(ctx._step))


def _laggards(ctx: DistContext) -> str:
    """``" (rank 1 is gone: …)"`` from the store, or nothing when the store cannot tell.

    The survivors of a lost rank all come here and answer a roll call in the store (which torchrun's agent
    hosts, so it outlives the workers); a rank that stays silent, or never reached this collective, is
    the one that failed, died or hangs.
    """
    store = _store()
    if store is None:
        return ""
    with contextlib.suppress(RuntimeError):
        store.set(_ALIVE_KEY.format(rank=ctx.rank), "1")
    deadline = time.monotonic() + ROLL_CALL_S
    missing = []
    for rank in range(ctx.world_size):
        if rank == ctx.rank:
            continue
        reached = -1
        with contextlib.suppress(RuntimeError, ValueError):
            if store.check([_PROGRESS_KEY.format(rank=rank)]):
                reached = int(store.get(_PROGRESS_KEY.format(rank=rank)))
        try:
            store.wait([_ALIVE_KEY.format(rank=rank)], timedelta(seconds=max(0.05, deadline - time.monotonic())))
            answered = True
        except RuntimeError:
            answered = False
        if reached < ctx._step or not answered:
            missing.append(rank)
    if not missing:
        return ""
    names = ", ".join(str(r) for r in missing)
    return f" (rank {names} is gone: it failed, died or hangs; this rank was at collective step {ctx._step})"


@contextlib.contextmanager
def collective(ctx: DistContext, what: str) -> Iterator[None]:
    """Number the collective, record the step reached, and turn a lost peer into a :class:`RankLostError`."""
    ctx._step += 1
    _mark(ctx)
    try:
        yield
    except RankLostError:
        raise
    except (RuntimeError, dist.DistError) as exc:
        global _stopping
        _stopping = True  # torchrun's SIGTERM, arriving now, must not replace this explanation
        raise RankLostError(
            f"rank {ctx.rank}: lost the other ranks during {what}{_laggards(ctx)}; nothing half-written is "
            f"kept, and the same command started again resumes ({type(exc).__name__}: {exc})"
        ) from exc


def _barrier(ctx: DistContext) -> None:
    if ctx.backend == "nccl":
        dist.barrier(device_ids=[ctx.device.index])
    else:
        dist.barrier()


def barrier(ctx: DistContext, what: str = "a barrier") -> None:
    if ctx.is_distributed:
        with collective(ctx, what):
            _barrier(ctx)


def rounds(total: int, per_rank: int, ctx: DistContext) -> Iterator[range]:
    """This rank's share of each round of ``world_size × per_rank`` consecutive indices (maybe empty).

    Every rank sees the same number of rounds, so the per-round gathers always pair up.
    """
    if per_rank < 1:
        raise MemstudioError(f"a batch of {per_rank} items per process is not possible; use 1 or more")
    span = per_rank * ctx.world_size
    for start in range(0, total, span):
        begin = min(start + ctx.rank * per_rank, total)
        yield range(begin, min(begin + per_rank, total))


def shard_range(total: int, ctx: DistContext) -> range:
    """This rank's contiguous block of ``range(total)``; blocks in rank order make up the whole range."""
    begin = total * ctx.rank // ctx.world_size
    return range(begin, total * (ctx.rank + 1) // ctx.world_size)


def gather_in_order(local: Sequence[T], ctx: DistContext, what: str = "gathering results") -> list[T]:
    """Every rank's items concatenated in rank order (the input order for :func:`rounds` and
    :func:`shard_range`), on every rank."""
    if not ctx.is_distributed:
        return list(local)
    parts: list[list[T] | None] = [None] * ctx.world_size
    with collective(ctx, what):
        dist.all_gather_object(parts, list(local))
    return [item for part in parts for item in (part or [])]


def broadcast(value: T, ctx: DistContext, what: str = "sharing rank 0's result") -> T:
    """Rank 0's ``value`` on every rank."""
    if not ctx.is_distributed:
        return value
    box = [value if ctx.is_main else None]
    with collective(ctx, what):
        dist.broadcast_object_list(box, src=0)
    return box[0]


def run_on_main(fn: Callable[[], T], ctx: DistContext, what: str) -> T:
    """Run ``fn`` on rank 0 only (reading the inputs, writing the output) and share its result.

    A :class:`MemstudioError` raised there is raised on every rank, with rank 0's message, so all stop alike.
    """
    if not ctx.is_distributed:
        return fn()
    outcome: tuple[bool, object] = (True, None)
    if ctx.is_main:
        try:
            outcome = (True, fn())
        except MemstudioError as exc:
            outcome = (False, str(exc))
    ok, value = broadcast(outcome, ctx, what)
    if not ok:
        raise MemstudioError(str(value))
    return value  # type: ignore[return-value]


def all_reduce_sum_(tensor: torch.Tensor, ctx: DistContext, what: str = "adding gradients") -> torch.Tensor:
    """Sum ``tensor`` over the ranks in place (gradients: each rank's loss is already over the global batch)."""
    if ctx.is_distributed:
        with collective(ctx, what):
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_gradients_(parameters: Sequence[torch.nn.Parameter], ctx: DistContext) -> None:
    """Sum the parameters' gradients over the ranks in one flat all-reduce (a missing gradient counts as 0).

    Each rank's loss must already carry its share of the global batch (local mean × local / global count):
    the sum is then the gradient of the global batch's mean, as DistributedDataParallel averages.
    """
    if not ctx.is_distributed:
        return
    for p in parameters:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in parameters])
    all_reduce_sum_(flat, ctx)
    offset = 0
    for p in parameters:
        p.grad.copy_(flat[offset : offset + p.numel()].view_as(p))
        offset += p.numel()


def check_same_models(ctx: DistContext, hashes: Mapping[str, str | None]) -> None:
    """Refuse to start when the ranks loaded different model files (a stale copy on one node, say)."""
    if not ctx.is_distributed:
        return
    everyone = gather_in_order([dict(hashes)], ctx, "comparing model files")
    reference = everyone[0]
    for rank, theirs in enumerate(everyone[1:], start=1):
        for label in sorted(set(reference) | set(theirs)):
            if reference.get(label) != theirs.get(label):
                raise MemstudioError(
                    f"{label}: rank {rank} loaded other weights than rank 0 "
                    f"(SHA-256 {theirs.get(label)} vs {reference.get(label)}); give every node the same file"
                )


def report(ctx: DistContext, message: str) -> None:
    """A message on stderr from whichever rank met it, with the rank named in a distributed run."""
    print(f"memstudio: {ctx.label()}{message}", file=sys.stderr, flush=True)
