"""The hyperplane's sampling step on its own: N latents and their scores, in one ``.safetensors`` file.

InterFaceGAN-style hyperplanes are fitted on ~500,000 scored latents; rendering and scoring them is the cost,
the fit is cheap. So ``memstudio direction sample`` does that step, on any number of processes, and
``direction train --method hyperplane --samples FILE`` fits from the file.

Sample i's z comes from a random stream seeded by (seed, i) alone, so any split of the indices among
processes draws the same latents; :func:`memstudio.core.distributed.rounds` gives each process a batch of
consecutive indices per round, the same batches one process with the same batch size scores, so the scores
are the same to the bit when the processes compute alike (same device kind and thread count).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from memstudio.core import distributed
from memstudio.core.assessors.base import Assessor
from memstudio.core.directions.base import DirectionError
from memstudio.core.directions.sampling import module_device, truncated_normal, z_shape
from memstudio.core.generators.base import Generator, Latent
from memstudio.core.jobs import Job, Progress

SAMPLES_FORMAT = "memstudio-samples/1"


@dataclass
class Samples:
    """``latents`` ``[N, *latent shape]`` in ``space``, ``scores`` ``[N]``, and where they came from."""

    latents: torch.Tensor
    scores: torch.Tensor
    space: str
    generator: dict[str, object]
    assessor: dict[str, object]
    seed: int
    z_bound: float | None
    class_index: int | None = None

    def save(self, path: str | Path) -> Path:
        """Write atomically (temporary file beside ``path``, fsync, rename): a crash leaves no half file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": SAMPLES_FORMAT,
            "space": self.space,
            "generator": json.dumps(self.generator, sort_keys=True),
            "assessor": json.dumps(self.assessor, sort_keys=True),
            "seed": str(self.seed),
            "z_bound": json.dumps(self.z_bound),
            "class_index": json.dumps(self.class_index),
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            tensors = {"latents": self.latents.contiguous(), "scores": self.scores.contiguous()}
            save_file(tensors, tmp, metadata=meta)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Samples:
        path = Path(path)
        if not path.is_file():
            raise DirectionError(f"{path}: no such samples file")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise DirectionError(f"{path}: not a readable samples file ({exc})") from exc
        if meta.get("format") != SAMPLES_FORMAT or set(tensors) != {"latents", "scores"}:
            raise DirectionError(f"{path}: not a memstudio samples file (made by `memstudio direction sample`)")
        latents, scores = tensors["latents"], tensors["scores"]
        if scores.ndim != 1 or latents.shape[0] != scores.shape[0]:
            raise DirectionError(
                f"{path}: {latents.shape[0]} latents but {tuple(scores.shape)} scores; the file is damaged"
            )
        return cls(
            latents=latents,
            scores=scores,
            space=meta["space"],
            generator=json.loads(meta["generator"]),
            assessor=json.loads(meta["assessor"]),
            seed=int(meta["seed"]),
            z_bound=json.loads(meta["z_bound"]),
            class_index=json.loads(meta["class_index"]),
        )


def sample_z(shape: tuple[int, ...], indices: range, seed: int, z_bound: float | None) -> torch.Tensor:
    """z of samples ``indices``: sample i from its own stream seeded by (seed, i), so any split agrees."""
    rows = []
    for i in indices:
        state = np.random.SeedSequence([seed % (1 << 63), i]).generate_state(1, np.uint64)[0]
        rows.append(truncated_normal((1, *shape), z_bound, torch.Generator().manual_seed(int(state))))
    return torch.cat(rows) if rows else torch.empty(0, *shape)


def sample_scores(
    generator: Generator,
    assessor: Assessor,
    space: str,
    num_samples: int,
    seed: int = 0,
    batch_size: int = 16,
    z_bound: float | None = None,
    class_index: int | None = None,
    ctx: distributed.DistContext | None = None,
) -> Job[Samples | None]:
    """Render and score ``num_samples`` latents; under torch.distributed each rank does its rounds' batches
    and rank 0 returns all samples, in index order (the other ranks None: they need not hold them all)."""
    ctx = ctx or distributed.DistContext()
    if num_samples < 1:
        raise DirectionError("no samples to draw: give --num-samples of 1 or more")
    if space not in generator.spaces:
        raise DirectionError(
            f"generator {generator.name!r} has no latent space {space!r} (it has {', '.join(generator.spaces)})"
        )
    if generator.num_classes > 0 and class_index is None:
        raise DirectionError(f"generator {generator.name!r} is class-conditional: choose the class to sample")
    shape = z_shape(generator)
    device = module_device(generator)
    latents: list[torch.Tensor] = []
    scores: list[torch.Tensor] = []
    done = 0
    for mine in distributed.rounds(num_samples, batch_size, ctx):
        part: list[tuple[torch.Tensor, torch.Tensor]] = []
        if len(mine):
            z = sample_z(shape, mine, seed, z_bound).to(device)
            latent = generator.convert(Latent("z", z, class_index=class_index), space)
            with torch.no_grad():
                score = assessor.score(generator.render(latent)).float().cpu()
            part.append((latent.values.detach().float().cpu(), score))
        for values, score in distributed.gather_in_order(part, ctx, "gathering samples"):
            if ctx.is_main:
                latents.append(values)
                scores.append(score)
            done += values.shape[0]
        yield Progress(done / max(num_samples, 1), f"scored {done}/{num_samples} samples")
    if not ctx.is_main:
        return None
    return Samples(
        latents=torch.cat(latents),
        scores=torch.cat(scores),
        space=space,
        generator=generator.describe(),
        assessor=assessor.describe(),
        seed=seed,
        z_bound=z_bound,
        class_index=class_index,
    )
