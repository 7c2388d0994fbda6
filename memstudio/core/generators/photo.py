"""Photo editing as a generator: the latent is a vector of named, bounded edit parameters over a real photo.

This is the "basic photo editing" route to memorability that paper 000 cites, and it makes the studio useful
before any GAN is loaded. Each latent coordinate ``u`` is unbounded (so GANalyze can add ``α·θ`` freely) and
maps to a physical parameter ``bound · tanh(u)``: however far an edit pushes, a person still sees the same
photo, edited. Every operation is the identity at zero, so the zero latent reproduces the photo exactly, and
every operation is differentiable, so an assessor's gradient reaches the edit vector.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from memstudio.core.generators.base import Generator, Latent
from memstudio.core.generators.edit_params import EDITOR_VERSION, PARAMETER_INDEX, PARAMETERS, EditParameter

__all__ = ["EDITOR_VERSION", "PARAMETERS", "PARAMETER_INDEX", "EditParameter", "PhotoEditor", "luma"]


# ITU-R BT.601 luma, the weights "brightness" means everywhere in memstudio.
_LUMA = (0.299, 0.587, 0.114)
# RGB ↔ YIQ: hue rotates the (I, Q) chroma plane while keeping luma.
_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


class PhotoEditor(Generator):
    """A differentiable editor over one photo (or a batch of same-sized photos).

    ``render`` takes a latent ``[M, len(PARAMETERS)]``; with one photo the edits broadcast over it, with N
    photos M must equal N (one edit per photo), which is how GANalyze trains θ over a set of photos.
    """

    name = "photo"
    spaces = ("edit",)
    default_space = "edit"

    def __init__(self, photos: torch.Tensor, label: str = "photo") -> None:
        super().__init__()
        if photos.ndim != 4 or photos.shape[1] != 3:
            raise ValueError(f"expected photos [N, 3, H, W], got {tuple(photos.shape)}")
        self.register_buffer("photos", photos.float().clamp(0, 1), persistent=False)
        self.label = label
        self.register_buffer("_blur_kernel", _gaussian_kernel(sigma=1.5), persistent=False)

    @property
    def resolution(self) -> int:
        return int(max(self.photos.shape[-2:]))

    @property
    def num_params(self) -> int:
        return len(PARAMETERS)

    def describe(self) -> dict[str, object]:
        """The generator's identity plus the editor version its directions are tied to."""
        return {**super().describe(), "editor_version": EDITOR_VERSION}

    def sample(self, seed: int = 0, truncation: float = 1.0, class_index: int | None = None) -> Latent:
        """The unedited photo: the zero edit vector, for every photo held."""
        values = torch.zeros(self.photos.shape[0], self.num_params, device=self.photos.device)
        return Latent(space="edit", values=values, seed=None, label=self.label)

    def latent_from_values(self, values: dict[str, float]) -> Latent:
        """Slider values (physical units) → latent; missing parameters stay at zero."""
        u = torch.zeros(1, self.num_params, device=self.photos.device)
        for key, value in values.items():
            idx = PARAMETER_INDEX[key]
            u[0, idx] = PARAMETERS[idx].latent(float(value))
        return Latent(space="edit", values=u, label=self.label)

    @staticmethod
    def physical_values(latent: Latent) -> list[dict[str, float]]:
        """Latent → physical value per parameter, one dict per row, for labels and metadata."""
        rows = []
        for row in latent.values.detach().float().cpu():
            rows.append({p.name: float(p.physical(row[i])) for i, p in enumerate(PARAMETERS)})
        return rows

    def render(self, latent: Latent) -> torch.Tensor:
        u = latent.values
        if u.ndim != 2 or u.shape[1] != self.num_params:
            raise ValueError(f"photo edit latent must be [N, {self.num_params}], got {tuple(u.shape)}")
        photos = self.photos
        if photos.shape[0] == 1 and u.shape[0] > 1:
            photos = photos.expand(u.shape[0], -1, -1, -1)
        elif photos.shape[0] != u.shape[0]:
            raise ValueError(f"{photos.shape[0]} photos but {u.shape[0]} edit vectors")
        p = {param.name: param.physical(u[:, i]) for i, param in enumerate(PARAMETERS)}
        x = self._geometry(photos, p["zoom"], p["center_x"], p["center_y"])
        # Operations whose parameter is zero for the whole batch are skipped: they are the identity, and a
        # slider drag usually moves one parameter, so a frame costs one or two passes over the pixels.
        if _active(p["exposure"]):
            x = x * torch.pow(2.0, p["exposure"])[:, None, None, None]
        if _active(p["temperature"]):
            x = _temperature(x, p["temperature"])
        if _active(p["contrast"]):
            x = _contrast(x, p["contrast"])
        if _active(p["saturation"]):
            x = _saturation(x, p["saturation"])
        if _active(p["hue"]):
            x = _hue(x, p["hue"])
        if _active(p["vignette"]):
            x = _vignette(x, p["vignette"])
        if _active(p["sharpness"]):
            x = self._sharpness(x, p["sharpness"])
        return x.clamp(0.0, 1.0)

    def _geometry(
        self, x: torch.Tensor, zoom: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor
    ) -> torch.Tensor:
        if not (_active(zoom) or _active(cx) or _active(cy)):
            return x  # exact identity, no resampling
        scale = torch.exp(zoom * math.log(2.0))  # zoom 0.7 → 1.62× magnification; −0.2 → 0.87×
        inv = 1.0 / scale
        # Room to move the crop centre without leaving the photo (none when zoomed out).
        room = (1.0 - inv).clamp(min=0.0)
        theta = torch.zeros(x.shape[0], 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = inv
        theta[:, 1, 1] = inv
        theta[:, 0, 2] = cx * room
        theta[:, 1, 2] = cy * room
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def _sharpness(self, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        kernel = self._blur_kernel.to(x)
        pad = kernel.shape[-1] // 2
        blurred = F.conv2d(
            F.pad(x, (pad, pad, pad, pad), mode="reflect"), kernel.expand(3, 1, -1, -1), groups=3
        )
        # k > 0: unsharp mask; k < 0: blend towards the blurred photo (k = −1 is fully blurred).
        return x + k[:, None, None, None] * (x - blurred)


def _active(values: torch.Tensor) -> bool:
    # requires_grad: during direction training every parameter must stay in the graph, zero or not.
    return values.requires_grad or bool(torch.any(values != 0))


def luma(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of ``[N, 3, H, W]`` → ``[N, 1, H, W]``."""
    w = torch.tensor(_LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def _temperature(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    gains = torch.stack([1 + 0.15 * t, torch.ones_like(t), 1 - 0.15 * t], dim=1)
    return x * gains[:, :, None, None]


def _contrast(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    mean = luma(x).mean(dim=(2, 3), keepdim=True)
    return mean + (x - mean) * (1 + c)[:, None, None, None]


def _saturation(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    y = luma(x)
    return y + (x - y) * (1 + s)[:, None, None, None]


def _hue(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    to_yiq = _RGB_TO_YIQ.to(x)
    to_rgb = _YIQ_TO_RGB.to(x)
    yiq = torch.einsum("ij,njhw->nihw", to_yiq, x)
    a = torch.deg2rad(degrees)[:, None, None]
    cos, sin = torch.cos(a), torch.sin(a)
    i, q = yiq[:, 1], yiq[:, 2]
    rotated = torch.stack([yiq[:, 0], i * cos - q * sin, i * sin + q * cos], dim=1)
    return torch.einsum("ij,njhw->nihw", to_rgb, rotated)


def _vignette(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)
    r2 = (ys[:, None] ** 2 + xs[None, :] ** 2) / 2.0  # 0 in the centre, 1 in the corners
    return x * (1 - v[:, None, None, None] * r2[None, None])


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(2.5 * sigma)))
    coords = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]
