"""The low-level operations of NVIDIA's StyleGAN networks in pure PyTorch: upfirdn2d, bias_act,
conv2d_resample and filtered_lrelu.

They follow the *reference* paths of NVIDIA's ``torch_utils.ops`` (the ones the official code runs on a CPU),
operation for operation, so images agree with the official tools to float rounding. The CUDA plugins of the
original are only faster versions of the same math; these functions run on any device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

Padding = int | Sequence[int]

#: Default gain of each activation, as NVIDIA's ``bias_act.activation_funcs[...].def_gain``.
ACTIVATION_GAIN = {"linear": 1.0, "lrelu": math.sqrt(2.0)}

#: CUDA's depthwise convolutions index with 32-bit integers; StyleGAN3-T 1024 at batch 8 needs more.
MAX_CONV_ELEMENTS = 2**31 - 1


def parse_padding(padding: Padding) -> tuple[int, int, int, int]:
    """int, [x, y] or [x0, x1, y0, y1] → (x0, x1, y0, y1), NVIDIA's convention."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        px, py = padding
        return px, px, py, py
    px0, px1, py0, py1 = padding
    return px0, px1, py0, py1


def setup_filter(taps: Sequence[float]) -> torch.Tensor:
    """FIR taps → the normalised 2-D filter NVIDIA stores as ``resample_filter`` (outer product, sum 1)."""
    f = torch.as_tensor(np.asarray(taps, dtype=np.float32))
    if f.ndim == 1 and f.numel() < 8:
        f = torch.outer(f, f)
    return f / f.sum()


def _filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    if f is None:
        return 1, 1
    return int(f.shape[-1]), int(f.shape[0])


def upfirdn2d_ref(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    gain: float = 1.0,
    flip_filter: bool = False,
) -> torch.Tensor:
    """The original's reference formulation: zero insertion, pad (or crop), FIR filter at the high rate,
    keep every ``down``-th sample. A 1-D ``f`` is separable and applied along x, then y.

    :func:`upfirdn2d` computes the same values with up/down× fewer operations; this one is the yardstick.
    """
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    batch, channels, height, width = x.shape
    px0, px1, py0, py1 = parse_padding(padding)
    if up > 1:
        x = x.reshape(batch, channels, height, 1, width, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(batch, channels, height * up, width * up)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]

    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f[None, None].repeat([channels, 1] + [1] * f.ndim)
    if f.ndim == 4:
        x = F.conv2d(x, f, groups=channels)
    else:
        x = F.conv2d(x, f.unsqueeze(2), groups=channels)
        x = F.conv2d(x, f.unsqueeze(3), groups=channels)
    return x[:, :, ::down, ::down]


def _pad_axis(x: torch.Tensor, lo: int, hi: int, axis: int) -> torch.Tensor:
    """Zero-pad (positive) or crop (negative) one spatial axis (3 = x, 2 = y)."""
    return F.pad(x, [lo, hi, 0, 0] if axis == 3 else [0, 0, lo, hi])


def _fir_axis(
    x: torch.Tensor, f: torch.Tensor, up: int, down: int, p0: int, p1: int, axis: int
) -> torch.Tensor:
    """upfirdn along one axis with a 1-D filter ``f`` (already gained and flipped for correlation)."""
    channels = x.shape[1]
    taps = f.shape[0]

    def kernel(k: torch.Tensor) -> torch.Tensor:
        k = k.reshape(-1, 1, 1, k.shape[-1])
        return k if axis == 3 else k.transpose(2, 3)

    if up == 1:
        x = _pad_axis(x, p0, p1, axis)
        stride = (1, down) if axis == 3 else (down, 1)
        return F.conv2d(x, kernel(f.repeat(channels, 1)), stride=stride, groups=channels)

    # Polyphase upsampling: output phase r is x convolved with every up-th tap starting at r, so no
    # multiply ever touches an inserted zero. `f` arrives flipped; undo that to index true taps.
    true_f = f.flip(0)
    phase_taps = -(-taps // up)
    true_f = F.pad(true_f, [0, phase_taps * up - taps])
    phases = true_f.reshape(phase_taps, up).t().flip(1)  # [up, phase_taps], correlation order
    n = x.shape[axis]
    x = _pad_axis(x, phase_taps - 1, phase_taps - 1, axis)
    y = F.conv2d(x, kernel(phases.repeat(channels, 1)), groups=channels)  # [N, C*up, ...]
    batch = y.shape[0]
    if axis == 3:
        y = y.reshape(batch, channels, up, y.shape[2], y.shape[3]).permute(0, 1, 3, 4, 2)
        y = y.reshape(batch, channels, y.shape[2], -1)
    else:
        y = y.reshape(batch, channels, up, y.shape[2], y.shape[3]).permute(0, 1, 3, 2, 4)
        y = y.reshape(batch, channels, -1, y.shape[4])
    # y holds the full convolution of the zero-stuffed signal; the ref's output starts taps-1-p0 into it.
    out_len = n * up + p0 + p1 - taps + 1
    start = taps - 1 - p0
    y = _pad_axis(y, -start, out_len - (y.shape[axis] - start), axis)
    return y[:, :, :, ::down] if axis == 3 else y[:, :, ::down, :]


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    gain: float = 1.0,
    flip_filter: bool = False,
) -> torch.Tensor:
    """Upsample (zero insertion), pad or crop, FIR filter, downsample: the values of :func:`upfirdn2d_ref`.

    Separable (1-D) filters run per axis as polyphase / strided depthwise convolutions, so the cost is that
    of filtering at the *input* rate when upsampling and at the *output* rate when downsampling.
    """
    px0, px1, py0, py1 = parse_padding(padding)
    taps = 1 if f is None else f.shape[-1]
    # Every channel is filtered alone, so channel groups give the same values in convolutions small enough.
    largest = x.shape[0] * x.shape[1] * math.prod(
        size * up + abs(p0) + abs(p1) + taps for size, p0, p1 in ((x.shape[2], py0, py1), (x.shape[3], px0, px1))
    )
    groups = min(-(-largest // MAX_CONV_ELEMENTS), x.shape[1])
    if groups > 1:
        parts = x.tensor_split(groups, dim=1)
        return torch.cat([upfirdn2d(part, f, up, down, padding, gain, flip_filter) for part in parts], dim=1)
    if f is None or (f.ndim == 2 and up > 1):
        return upfirdn2d_ref(x, f, up, down, padding, gain, flip_filter)
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        channels = x.shape[1]
        x = F.pad(x, [px0, px1, py0, py1])
        return F.conv2d(x, f[None, None].repeat(channels, 1, 1, 1), stride=down, groups=channels)
    x = _fir_axis(x, f, up, down, px0, px1, axis=3)
    return _fir_axis(x, f, up, down, py0, py1, axis=2)


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """2× upsampling with the FIR filter, keeping the image centred (the skip-architecture image path)."""
    fw, fh = _filter_size(f)
    padding = [(fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2]
    return upfirdn2d(x, f, up=up, padding=padding, gain=up * up)


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    alpha: float = 0.2,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Bias along dim 1, activation, gain, clamp — in that order, as NVIDIA's ``bias_act``."""
    if b is not None:
        x = x + b.reshape([-1 if i == 1 else 1 for i in range(x.ndim)])
    if act == "lrelu":
        x = F.leaky_relu(x, alpha)
    elif act != "linear":
        raise ValueError(f"unsupported activation {act!r}")
    gain = ACTIVATION_GAIN[act] if gain is None else float(gain)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def _conv(
    x: torch.Tensor,
    w: torch.Tensor,
    stride: int = 1,
    padding: int | Sequence[int] = 0,
    groups: int = 1,
    transpose: bool = False,
    flip_weight: bool = True,
) -> torch.Tensor:
    # F.conv2d is a correlation (flip_weight=True); a true convolution flips the kernel.
    if not flip_weight:
        w = w.flip([2, 3])
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    groups: int = 1,
    flip_weight: bool = True,
) -> torch.Tensor:
    """Convolution with optional FIR upsampling, by the same fast paths as NVIDIA's ``conv2d_resample``.

    Generators only upsample, so the downsampling paths of the original are not needed here.
    """
    out_channels, in_per_group, kh, kw = w.shape
    fw, fh = _filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2

    if up > 1 and kw == 1 and kh == 1:
        x = _conv(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, padding=[px0, px1, py0, py1], gain=up**2)

    if up > 1:
        # Transposed strided convolution does the zero insertion and the kernel in one op.
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
            w = w.reshape(groups * in_per_group, out_channels // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        x = _conv(
            x, w, stride=up, padding=[pyt, pxt], groups=groups, transpose=True, flip_weight=not flip_weight
        )
        return upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up**2)

    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return _conv(x, w, padding=[py0, px0], groups=groups, flip_weight=flip_weight)
    x = upfirdn2d(x, None, padding=[px0, px1, py0, py1])
    return _conv(x, w, groups=groups, flip_weight=flip_weight)


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    b: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    gain: float = math.sqrt(2.0),
    slope: float = 0.2,
    clamp: float | None = None,
) -> torch.Tensor:
    """StyleGAN3's alias-free nonlinearity: bias, upsample (``fu``), leaky ReLU + clamp, downsample (``fd``).

    This is the original's reference formulation (what it runs without its CUDA plugin).
    """
    x = bias_act(x, b)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up**2)
    x = bias_act(x, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d(x, fd, down=down)


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square (StyleGAN's pixel norm of z and of the class embedding)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()
