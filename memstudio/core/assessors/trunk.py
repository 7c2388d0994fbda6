"""Image features from a pretrained trunk — ResMem's, or an imported NIMA's MobileNet — for assessors trained
on a user's own ratings.

The feature layer is *multi-level spatially pooled* (MLSP, Hosu, Goldlücke & Saupe, CVPR 2019): the global
average of every ResNet-152 stage (256 + 512 + 1024 + 2048 channels) and of the AlexNet-like branch's last
convolution (256 channels), 4096 numbers per image. Why not only the last pooled layer, as a classic linear
probe would? Ratings of aesthetics or valence depend as much on low-level statistics (colour, contrast,
texture: early stages) as on content (late stages); MLSP features with a small head were state of the art on
AVA aesthetics. The AlexNet branch is the part of ResMem trained from scratch on memorability, so it brings
what ImageNet features lack. Pooling (rather than the branch's 9216 spatial values) keeps each level's weight
comparable and makes the features insensitive to where in the frame something is.

The trunk is the real ResMem network (weights from the ``resmem`` package) and stays differentiable, so an
assessor built on these features can drive direction training. Features of files are cached on disk per
(trunk weights, image bytes), because people retrain on the same photos with new ratings.

The NIMA trunk (``nima:NAME``, an imported idealo file) is the same idea on MobileNet-v1 trained for AVA
aesthetics: the global average of the last layer of each resolution (64, 128, 256, 512 and 1024 channels).
It is the natural trunk for aesthetics ratings, and ~20× cheaper than ResMem's (0.57 against ~12 GFLOP).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from memstudio.core.assessors.base import check_images
from memstudio.core.assessors.nima import NIMAAssessor
from memstudio.core.assessors.resmem import ResMemAssessor, ResMemNet, load_resmem, preprocess
from memstudio.core.checkpoints import cache_dir
from memstudio.core.device import tf32
from memstudio.core.errors import ImageLoadError, MemstudioError
from memstudio.core.imaging import load_image
from memstudio.core.jobs import Job, Progress
from memstudio.core.scoring import SCORE_SIDE

#: Name recorded with a trained assessor, so a later change of the layer cannot silently load old heads.
FEATURE_LAYER = "resmem-mlsp-v1"
#: Channels of each pooled level: ResNet-152 stages 1–4, then the AlexNet-like branch.
FEATURE_BLOCKS = (256, 512, 1024, 2048, 256)
FEATURE_DIM = sum(FEATURE_BLOCKS)
#: The NIMA trunk's feature layer and its blocks (the last layer of each of MobileNet's five resolutions).
NIMA_FEATURE_LAYER = "nima-mobilenet-levels-v1"
NIMA_FEATURE_BLOCKS = (64, 128, 256, 512, 1024)
#: The trunk of a trained assessor: ``resmem``, or ``nima:NAME`` for the NIMA imported as NAME.
DEFAULT_TRUNK = "resmem"


class ResMemTrunk(nn.Module):
    """ResMem's ResNet-152 and AlexNet-like branch up to the pooled features (no memorability head)."""

    name = DEFAULT_TRUNK
    feature_layer = FEATURE_LAYER
    feature_blocks = FEATURE_BLOCKS

    def __init__(self, resmem: ResMemAssessor) -> None:
        super().__init__()
        self.resmem = resmem
        self.checkpoint_hash = resmem.checkpoint_hash

    @property
    def net(self) -> ResMemNet:
        return self.resmem.net

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """ResMem's 227-px crop (what :meth:`pooled` takes)."""
        return self.resmem.prepare(images)

    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        return self.resmem.prepare_image(image)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``[N, FEATURE_DIM]`` of images in the project convention (differentiable preprocessing)."""
        check_images(images)
        return self.pooled(preprocess(images.to(next(self.net.parameters()).dtype)))

    def pooled(self, crops: torch.Tensor) -> torch.Tensor:
        """Features of ResMem's prepared 227-px crops (what :meth:`ResMemAssessor.prepare` returns)."""
        x = crops.contiguous(memory_format=torch.channels_last)
        r = self.net.features
        h = r.maxpool(r.relu(r.bn1(r.conv1(x))))
        levels = []
        for stage in (r.layer1, r.layer2, r.layer3, r.layer4):
            h = stage(h)
            levels.append(h.mean(dim=(2, 3)))
        n = self.net
        a = n.lrn1(n.pool1(torch.relu(n.conv1(x))))
        a = n.lrn2(n.pool2(torch.relu(n.conv2(a))))
        a = torch.relu(n.conv5(torch.relu(n.conv4(torch.relu(n.conv3(a))))))
        levels.append(n.pool5(a).mean(dim=(2, 3)))
        return torch.cat(levels, dim=1)


class NimaTrunk(nn.Module):
    """An imported NIMA's MobileNet up to the pooled features of each resolution (no rating head)."""

    feature_layer = NIMA_FEATURE_LAYER
    feature_blocks = NIMA_FEATURE_BLOCKS

    def __init__(self, nima: NIMAAssessor, stored_name: str) -> None:
        super().__init__()
        self.nima = nima
        self.name = f"nima:{stored_name}"
        #: SHA-256 of idealo's HDF5 file the weights were imported from.
        self.checkpoint_hash = nima.checkpoint_hash

    @property
    def device(self) -> torch.device:
        return next(self.nima.net.parameters()).device

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``[N, 1984]`` of images in the project convention (differentiable resize)."""
        check_images(images)
        return self.pooled(self.prepare(images))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """The 224×224 resize (what :meth:`pooled` takes)."""
        return self.nima.prepare(images)

    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        return self.nima.prepare_image(image)

    def pooled(self, prepared: torch.Tensor) -> torch.Tensor:
        dtype = next(self.nima.net.parameters()).dtype
        x = (prepared.to(dtype) * 2.0 - 1.0).contiguous(memory_format=torch.channels_last)
        return torch.cat(self.nima.net.levels(x), dim=1)


Trunk = ResMemTrunk | NimaTrunk


def parse_trunk(spec: str) -> tuple[str, str]:
    """``resmem`` → ("resmem", ""); ``nima:NAME`` → ("nima", NAME); anything else is refused."""
    if spec == DEFAULT_TRUNK:
        return DEFAULT_TRUNK, ""
    family, _, name = spec.partition(":")
    if family != "nima" or not name:
        raise MemstudioError(
            f"unknown trunk {spec!r}: use 'resmem' or 'nima:NAME' (NAME: a NIMA file imported with "
            "`memstudio import-model FILE --name NAME`)"
        )
    return family, name


def trunk_choices() -> list[str]:
    """The trunks a new assessor can be trained on here: ResMem's, and every imported NIMA's."""
    from memstudio.core.assessors.imported import list_imported

    return [DEFAULT_TRUNK, *(f"nima:{r.name}" for r in list_imported() if r.family == "nima")]


def load_trunk(spec: str, device: torch.device | str = "cpu") -> Trunk:
    """The trunk ``spec`` names (see :func:`parse_trunk`) on ``device``; why not, when it is not here."""
    from memstudio.core.assessors.imported import find_imported, load_imported

    family, name = parse_trunk(spec)
    if family == DEFAULT_TRUNK:
        return ResMemTrunk(load_resmem(device))
    record = find_imported(name, "nima")
    if record is None or record.name != name:
        choices = ", ".join(trunk_choices())
        raise MemstudioError(f"no NIMA imported as {name!r} for the trunk {spec!r}; trunks here: {choices}")
    assessor = load_imported(record, device)
    assert isinstance(assessor, NIMAAssessor)
    return NimaTrunk(assessor, name)


def file_features_job(
    paths: Sequence[Path],
    trunk: Trunk,
    batch_size: int = 8,
    use_cache: bool = True,
    name_of: Callable[[int], str] | None = None,
) -> Job[np.ndarray]:
    """Features ``[len(paths), trunk features]`` (float64) of image files, as a job; cached per file content.

    An unreadable file raises :class:`ImageLoadError` with the reason, prefixed by ``name_of(index)`` (the
    CSV row, say) when given; nothing is cached for it.
    """
    device = trunk.device
    features: list[np.ndarray | None] = [None] * len(paths)
    keys = [_cache_key(p, trunk, name_of(i) if name_of else None) for i, p in enumerate(paths)]
    todo = []
    for i, key in enumerate(keys):
        cached = _read_cached(key, sum(trunk.feature_blocks)) if use_cache else None
        if cached is None:
            todo.append(i)
        else:
            features[i] = cached
    done = len(paths) - len(todo)
    yield Progress(done / max(len(paths), 1), f"features {done}/{len(paths)} (cached)")
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        crops = []
        for i in chunk:
            try:
                image = load_image(paths[i], max_side=SCORE_SIDE).image
            except ImageLoadError as exc:
                raise ImageLoadError(f"{name_of(i)}: {exc}" if name_of else str(exc)) from exc
            crops.append(trunk.prepare_image(image))
        with torch.inference_mode(), tf32(False):
            batch = trunk.pooled(torch.cat(crops).to(device)).double().cpu().numpy()
        for i, row in zip(chunk, batch, strict=True):
            features[i] = row
            if use_cache:
                _write_cached(keys[i], row)
        done += len(chunk)
        yield Progress(done / len(paths), f"features {done}/{len(paths)}")
    return np.stack(features)


def _cache_key(path: Path, trunk: Trunk, label: str | None) -> Path:
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        prefix = f"{label}: " if label else ""
        raise ImageLoadError(f"{prefix}{path}: cannot be read ({exc.strerror or exc})") from exc
    folder = cache_dir() / "features" / f"{trunk.feature_layer}-{(trunk.checkpoint_hash or 'unhashed')[:16]}"
    return folder / f"{digest}.npy"


def _read_cached(key: Path, dim: int) -> np.ndarray | None:
    try:
        row = np.load(key, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return row if row.shape == (dim,) and np.isfinite(row).all() else None


def _write_cached(key: Path, row: np.ndarray) -> None:
    """Whole or not at all (temporary file beside it, then a rename): a killed run never leaves a bad row."""
    key.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=key.parent, prefix=f".{key.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, row.astype(np.float64), allow_pickle=False)
        os.replace(tmp, key)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
