"""ResMem (paper 002): ResNet-152 features ‖ an AlexNet-like branch → fully connected layers → sigmoid.

The weights are the real ones shipped by the ``resmem`` package. We rebuild the same architecture rather than
instantiate the package's class so that (a) the preprocessing — Resize((256, 256)) → CenterCrop(227) →
ToTensor, no normalisation — runs inside ``forward`` on tensors and stays differentiable, (b) weights load
without running code, on the meta device (no wasted random initialisation), and (c) inference can fold batch
norms and use channels-last. Scores equal the package's own pipeline to 1e-5 (tests/test_resmem.py).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import threading
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models import resnet152

from memstudio.core.assessors.base import Assessor, check_images
from memstudio.core.atomic import write_text_atomic, write_with
from memstudio.core.bundled import bundled_resmem
from memstudio.core.checkpoints import cache_dir, safe_torch_load, sha256_file
from memstudio.core.device import tf32
from memstudio.core.errors import ModelUnavailableError
from memstudio.core.imaging import pil_to_tensor, tensor_to_pil

RESIZE = 256
CROP = 227
_CRUISE_ALTITUDE = 384


def package_weights_path() -> Path:
    """Where the ``resmem`` package keeps its weights; a clear error when it is not installed."""
    spec = importlib.util.find_spec("resmem")
    if spec is None or spec.origin is None:
        raise ModelUnavailableError(
            "ResMem is not installed: `pip install resmem` (its wheel ships the weights, ~500 MB)"
        )
    path = Path(spec.origin).parent / "model.pt"
    if not path.is_file() or path.stat().st_size < 1_000_000:
        raise ModelUnavailableError(f"ResMem weights missing or incomplete at {path}; reinstall `resmem`")
    return path


class ResMemNet(nn.Module):
    """The network of the ``resmem`` package, parameter names unchanged (their state dict loads as is)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = resnet152(weights=None)
        c = _CRUISE_ALTITUDE
        self.conv1 = nn.Conv2d(3, 48, kernel_size=11, stride=4)
        self.pool1 = nn.MaxPool2d(3, 2)
        self.lrn1 = nn.LocalResponseNorm(5)
        self.conv2 = nn.Conv2d(48, 256, kernel_size=5, stride=1, padding=2, groups=2)
        self.pool2 = nn.MaxPool2d(3, 2)
        self.lrn2 = nn.LocalResponseNorm(5)
        self.conv3 = nn.Conv2d(256, c, kernel_size=3, padding=1, groups=2)
        self.conv4 = nn.Conv2d(c, c, kernel_size=3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(c, 256, kernel_size=3, padding=1, groups=2)
        self.pool5 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.fc6 = nn.Linear(9216 + 1000, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, 2048)
        self.fc9 = nn.Linear(2048, 1024)
        self.fc10 = nn.Linear(1024, 512)
        self.fc11 = nn.Linear(512, 256)
        self.fc12 = nn.Linear(256, 1)

    def fold_batch_norms(self) -> None:
        """Fold every frozen batch norm of the ResNet into the convolution before it.

        Inference only ever uses the running statistics, so each BN is an affine map that the preceding
        convolution can absorb: one pass less over every activation (~15 % of the CPU forward), scores
        within 2e-7 of the unfolded net. Gradients through the folded net are the same function's.
        """
        r = self.features
        r.conv1, r.bn1 = fuse_conv_bn_eval(r.conv1, r.bn1), nn.Identity()
        for stage in (r.layer1, r.layer2, r.layer3, r.layer4):
            for block in stage:
                for i in (1, 2, 3):
                    conv, bn = getattr(block, f"conv{i}"), getattr(block, f"bn{i}")
                    setattr(block, f"conv{i}", fuse_conv_bn_eval(conv, bn))
                    setattr(block, f"bn{i}", nn.Identity())
                if block.downsample is not None:
                    block.downsample = fuse_conv_bn_eval(block.downsample[0], block.downsample[1])

    def alexnet_branch(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lrn1(self.pool1(F.relu(self.conv1(x))))
        h = self.lrn2(self.pool2(F.relu(self.conv2(h))))
        h = F.relu(self.conv3(h))
        h = F.relu(self.conv4(h))
        h = self.pool5(F.relu(self.conv5(h)))
        return h.reshape(h.shape[0], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.cat((self.alexnet_branch(x), self.features(x)), dim=1)
        h = F.relu(self.fc6(features))
        for fc in (self.fc7, self.fc8, self.fc9, self.fc10, self.fc11):
            h = F.relu(fc(h))
        return torch.sigmoid(self.fc12(h)).squeeze(1)


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """The package's Resize((256, 256)) → CenterCrop(227), on tensors, equal to Pillow's pixels.

    Pillow resizes an 8-bit image in two antialiased bilinear passes — horizontal, then vertical — with
    fixed-point filter coefficients, rounding to 8 bits after each pass. We apply the same banded filters in
    float64 on the 0–255 scale and round with a straight-through gradient, so scores match the package and
    stay differentiable for direction training.
    """
    dtype = images.dtype
    # The input becomes 8-bit exactly as a frame is shown or saved (tensor_to_uint8: float32, round half to
    # even), so the score of a generated image equals the score of its PNG.
    scaled = images.float().clamp(0, 1) * 255.0
    x = (scaled + (torch.round(scaled) - scaled).detach()).double()
    x = _pillow_pass(x)
    x = _pillow_pass(x.transpose(-1, -2)).transpose(-1, -2)
    top = int(round((RESIZE - CROP) / 2.0))
    return (x[:, :, top : top + CROP, top : top + CROP] / 255.0).to(dtype)


_PRECISION_BITS = 32 - 8 - 2  # Pillow's fixed point for 8-bit images (Resample.c)


def _pillow_pass(x: torch.Tensor) -> torch.Tensor:
    """One of Pillow's two resampling passes along the last axis, then its 8-bit rounding."""
    return _quantise(_resample_last(x, *pillow_bilinear_taps(x.shape[-1], RESIZE, x.device)))


def pillow_bilinear_taps(in_size: int, out_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Input indices and weights ``[out_size, taps]`` of Pillow's antialiased bilinear filter."""
    index, weight = _taps(in_size, out_size)
    return index.to(device), weight.to(device)


def _taps(in_size: int, out_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    # Built outside inference mode even when first asked for while scoring: cached inference tensors
    # could not be used later by direction training, which needs gradients.
    with torch.inference_mode(False):
        return _build_taps(in_size, out_size)


@functools.lru_cache(maxsize=64)
def _build_taps(in_size: int, out_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale
    rows: list[tuple[int, list[float]]] = []
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        taps = [max(0.0, 1.0 - abs((x - center + 0.5) / filterscale)) for x in range(xmin, xmax)]
        total = sum(taps)
        fixed = [_to_fixed(w / total if total else 0.0) for w in taps]
        rows.append((xmin, fixed))
    width = max(len(f) for _, f in rows)
    index = torch.zeros(out_size, width, dtype=torch.long)
    weight = torch.zeros(out_size, width, dtype=torch.float64)
    for xx, (xmin, fixed) in enumerate(rows):
        for i, w in enumerate(fixed):
            index[xx, i] = xmin + i
            weight[xx, i] = w
    return index, weight


def _to_fixed(w: float) -> float:
    scaled = math.trunc(w * (1 << _PRECISION_BITS) + (0.5 if w >= 0 else -0.5))
    return scaled / (1 << _PRECISION_BITS)


def _resample_last(x: torch.Tensor, index: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (x[..., index] * weight).sum(dim=-1)


def _quantise(x: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels (half up, as Pillow's fixed point does) with a straight-through gradient."""
    levels = torch.floor(x + 0.5).clamp(0.0, 255.0)
    return x + (levels - x).detach()


class ResMemAssessor(Assessor):
    """Memorability in [0, 1] predicted by ResMem (real weights; non-commercial licence)."""

    name = "resmem"
    property = "memorability"
    score_range = (0.0, 1.0)
    decimals = 3

    def __init__(self, net: ResMemNet, checkpoint_hash: str | None) -> None:
        super().__init__()
        self.net = net.eval()
        self.checkpoint_hash = checkpoint_hash

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        x = preprocess(images.to(next(self.net.parameters()).dtype))
        return self.net(x.contiguous(memory_format=torch.channels_last))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Preprocessing for scoring: without gradients, Pillow itself resizes (the package's exact pipeline,
        and several times faster than the differentiable tensor version on large photos)."""
        check_images(images)
        if (images.requires_grad and torch.is_grad_enabled()) or images.is_cuda:
            # On a GPU the tensor version is the faster one (12 vs 25 ms for a 1024-px frame on an H100), and
            # its float64 sums of Pillow's fixed-point taps are exact, so the pixels are Pillow's there too.
            return preprocess(images.to(next(self.net.parameters()).dtype))
        crops = [self.prepare_image(tensor_to_pil(images, i)) for i in range(images.shape[0])]
        return torch.cat(crops).to(images.device)

    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        top = int(round((RESIZE - CROP) / 2.0))
        resized = image.convert("RGB").resize((RESIZE, RESIZE), Image.Resampling.BILINEAR)
        crop = pil_to_tensor(resized.crop((top, top, top + CROP, top + CROP)))
        return crop.to(next(self.net.parameters()).dtype)

    def score(self, images: torch.Tensor) -> torch.Tensor:
        return self.score_prepared(self.prepare(images.detach()))

    def score_prepared(self, prepared: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), tf32(False):
            return self.net(prepared.contiguous(memory_format=torch.channels_last)).detach().float().cpu()

    def trunk_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Activations of ResNet-152's four stages: an offline perceptual feature space (face inversion)."""
        check_images(images)
        r = self.net.features
        x = preprocess(images)
        x = r.maxpool(r.relu(r.bn1(r.conv1(x))))
        out = []
        for stage in (r.layer1, r.layer2, r.layer3, r.layer4):
            x = stage(x)
            out.append(x)
        return out


_lock = threading.Lock()
_loaded: dict[str, ResMemAssessor] = {}


def load_resmem(device: torch.device | str = "cpu") -> ResMemAssessor:
    """ResMem on ``device``, loaded once per process and device (later calls return the same module)."""
    key = str(torch.device(device))
    with _lock:
        if key not in _loaded:
            _loaded[key] = _load(torch.device(device))
        return _loaded[key]


def _load(device: torch.device) -> ResMemAssessor:
    bundled = bundled_resmem()
    if bundled is not None:
        path, digest = bundled
        state = load_file(str(path))
    else:
        source = package_weights_path()
        digest = _source_hash(source)
        state = load_state(source, digest)
    with torch.device("meta"):
        net = ResMemNet()
    net.load_state_dict(state, strict=True, assign=True)
    net.eval().fold_batch_norms()
    for p in net.parameters():
        p.requires_grad_(False)
    # Channels-last lets oneDNN pick its fastest convolutions: ~2× on a laptop CPU at batch 8, same scores.
    net = net.to(device, memory_format=torch.channels_last).eval()
    return ResMemAssessor(net, digest)


def load_state(source: Path, digest: str) -> dict[str, torch.Tensor]:
    """The state dict, from a safetensors copy in the user cache (written on first use; it loads faster)."""
    converted = cache_dir() / "weights" / f"resmem-{digest[:16]}.safetensors"
    if converted.is_file():
        return load_file(str(converted))
    state = safe_torch_load(source)
    if not isinstance(state, dict):
        raise ModelUnavailableError(f"{source}: not a ResMem state dict")
    write_with(converted, lambda tmp: save_file({k: v.contiguous() for k, v in state.items()}, str(tmp)))
    return state


def _source_hash(path: Path) -> str:
    """SHA-256 of the package weights, remembered per (size, mtime) so a cold start does not re-hash 500 MB."""
    stat = path.stat()
    memo = cache_dir() / "weights" / "hashes.json"
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    known: dict[str, str] = {}
    if memo.is_file():
        try:
            known = json.loads(memo.read_text())
        except ValueError:
            known = {}
    if key not in known:
        known[key] = sha256_file(path)
        write_text_atomic(memo, json.dumps(known, indent=1))
    return known[key]
