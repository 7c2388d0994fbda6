"""Scoring files: many images, several assessors, bad files reported and skipped, results streamed.

Shared by ``memstudio score`` and the studio's "Score a folder" job. Files are decoded and prepared for each
assessor on threads (ahead of the network where cores are free, else on all cores between forward passes),
and batched after each assessor's own preprocessing (ResMem's 227-px crops stack even when the photos differ
in size).
"""

from __future__ import annotations

import csv
import functools
import io
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.atomic import write_text_atomic
from memstudio.core.distributed import DistContext, gather_in_order, rounds
from memstudio.core.errors import ImageLoadError, JobCancelled
from memstudio.core.imaging import load_image
from memstudio.core.jobs import Job, Progress
from memstudio.core.unavailable import Score, Unavailable, as_score

#: Photos up to this side are scored at full resolution, so scores equal the assessors' reference pipelines
#: (ResMem resizes the whole photo to 256 px); larger camera files are reduced first to bound memory.
SCORE_SIDE = 4096


@dataclass
class ImageScores:
    """One file's scores; an assessor without a score for it (valence: no face) holds :class:`Unavailable`.

    ``details`` has what an assessor adds for JSON output (valence: the top expression and every face; NIMA:
    the standard deviation and the rating distribution).
    """

    path: Path
    values: dict[str, Score] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    details: dict[str, dict[str, object]] = field(default_factory=dict)


@dataclass
class ScoreFailure:
    path: Path
    message: str


#: A decoded file: each assessor's prepared input and the load notes, or no inputs and why the file failed;
#: then the assessors' details for JSON output.
Decoded = tuple[Path, dict[str, torch.Tensor] | None, tuple[str, ...] | str, dict[str, dict[str, object]]]


def _decode(path: Path, assessors: dict[str, Assessor]) -> Decoded:
    try:
        loaded = load_image(path, max_side=SCORE_SIDE)
    except ImageLoadError as exc:
        return path, None, str(exc), {}
    # Prepared here, on the decoding threads: Pillow's resize releases the GIL as its decoder does.
    inputs, details = {}, {}
    for name, assessor in assessors.items():
        inputs[name], extra = assessor.analyse_image(loaded.image)
        if extra is not None:
            details[name] = extra
    return path, inputs, loaded.notes, details


def score_paths(
    paths: Sequence[Path],
    assessors: dict[str, Assessor],
    batch_size: int = 4,
    device: torch.device | str = "cpu",
) -> Iterator[ImageScores | ScoreFailure]:
    """Yield one result per path, in order; unreadable files become :class:`ScoreFailure`."""
    for batch in _decoded_batches(paths, batch_size, functools.partial(_decode, assessors=assessors)):
        yield from _score_batch(batch, assessors, device)


def score_paths_sharded(
    paths: Sequence[Path],
    assessors: dict[str, Assessor],
    ctx: DistContext,
    batch_size: int = 4,
) -> Iterator[tuple[ImageScores | ScoreFailure, int]]:
    """Every path's result with the rank that scored it, in input order, on every rank.

    Each round of ``world_size × batch_size`` paths gives rank r its r-th batch; the round's results are
    gathered in rank order, which is the input order. In one process this is :func:`score_paths`.
    """
    if not ctx.is_distributed:
        for result in score_paths(paths, assessors, batch_size, ctx.device):
            yield result, 0
        return
    for mine in rounds(len(paths), batch_size, ctx):
        part = [paths[i] for i in mine]
        local = [(result, ctx.rank) for result in score_paths(part, assessors, batch_size, ctx.device)]
        yield from gather_in_order(local, ctx, "gathering scores")


def _decoded_batches(
    paths: Sequence[Path], batch_size: int, decode: Callable[[Path], Decoded]
) -> Iterator[list[Decoded]]:
    """Batches of decoded images (Pillow releases the GIL while it decodes, so threads decode in parallel).

    With cores to spare beyond the network's threads, the next batch decodes on them while the network works.
    Without, a decoding thread would only preempt the network, which then waits for its slowest thread (5 %
    slower on 2 cores), so each batch is decoded on all cores between two forward passes instead.
    """
    chunks = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
    spare = _cores() - torch.get_num_threads()
    workers = spare if spare > 0 else torch.get_num_threads()
    with ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="memstudio-decode") as pool:
        if spare <= 0:
            for chunk in chunks:
                yield list(pool.map(decode, chunk))
            return
        pending = [pool.submit(decode, p) for p in chunks[0]] if chunks else []
        for following in [*chunks[1:], []]:
            batch = [future.result() for future in pending]
            pending = [pool.submit(decode, p) for p in following]
            yield batch


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _score_batch(
    batch: list[Decoded],
    assessors: dict[str, Assessor],
    device: torch.device | str,
) -> Iterator[ImageScores | ScoreFailure]:
    good = [inputs for _, inputs, _, _ in batch if inputs is not None]
    values: list[dict[str, Score]] = [{} for _ in good]
    outputs: list[dict[str, dict[str, object]]] = [{} for _ in good]
    with torch.inference_mode():
        for name, assessor in assessors.items():
            prepared = [inputs[name].to(device) for inputs in good]
            if prepared and all(x.shape == prepared[0].shape for x in prepared):
                batch_scores, extra = assessor.score_prepared_details(torch.cat(prepared))
                scores = batch_scores.tolist()
            else:
                each = [assessor.score_prepared_details(x) for x in prepared]
                scores = [float(s[0]) for s, _ in each]
                extra = [e[0] for _, e in each if e] if each and all(e for _, e in each) else None
            for i, score in enumerate(scores):
                values[i][name] = as_score(score, assessor.unavailable)
                if extra is not None:
                    outputs[i][name] = extra[i]
    results = iter(zip(values, outputs, strict=True))
    for path, inputs, notes, details in batch:
        if inputs is None:
            yield ScoreFailure(path, str(notes))
        else:
            row, more = next(results)
            merged = {name: {**details.get(name, {}), **more.get(name, {})} for name in {*details, *more}}
            yield ImageScores(path, row, tuple(notes), merged)


def score_to_csv_job(
    paths: Sequence[Path], assessors: dict[str, Assessor], csv_path: Path, device: torch.device | str = "cpu"
) -> Job[dict[str, object]]:
    """Score ``paths`` into ``csv_path`` (written atomically at the end; a cancel leaves no half file). A
    ``csv_path`` that is one of the images is refused before any is scored: the table would replace it."""
    from memstudio.core.atomic import refuse_inputs

    refuse_inputs([csv_path], paths)
    names = list(assessors)
    rows: list[list[object]] = []
    failures: list[ScoreFailure] = []
    total = max(len(paths), 1)
    for i, result in enumerate(score_paths(paths, assessors, device=device)):
        if isinstance(result, ScoreFailure):
            failures.append(result)
            rows.append([str(result.path), *[""] * len(names), result.message])
        else:
            missing = [f"{n}: {v.reason}" for n, v in result.values.items() if isinstance(v, Unavailable)]
            cells = ["" if isinstance(v, Unavailable) else f"{v:.6f}" for v in (result.values[n] for n in names)]
            rows.append([str(result.path), *cells, "; ".join(missing)])
        yield Progress((i + 1) / total, f"{i + 1}/{len(paths)} {result.path.name}")
    if not rows:
        raise JobCancelled("no images to score")
    csv_path = Path(csv_path)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", *names, "error"])
    writer.writerows(rows)
    write_text_atomic(csv_path, buffer.getvalue())
    return {"csv": str(csv_path), "scored": len(rows) - len(failures), "failed": len(failures)}
