"""What StyleGAN2 and StyleGAN3 share as memstudio generators: seeds, the z → w → w+ spaces, rendering.

A seed means what it means in NVIDIA's ``generate.py`` / ``gen_images.py``:
``z = np.random.RandomState(seed).randn(1, z_dim)``, so seed 42 is the same image here and in a paper.
``sample`` returns the W+ latent (one w per synthesis layer) so the studio can edit layer by layer; the z it
came from rides along in ``latent.extras["z"]``.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import numpy as np
import torch

from memstudio.core.errors import MemstudioError
from memstudio.core.generators import graphs
from memstudio.core.generators.base import Generator, Latent

NOISE_MODES = ("const", "random", "none")


class StyleGANGenerator(Generator):
    """Base of the StyleGAN2 and StyleGAN3 generators (submodules ``mapping`` and ``synthesis``)."""

    #: Synthesise CPU batches sample by sample (set per family from its benchmark).
    cpu_per_sample = False

    spaces = ("z", "w", "w+")
    default_space = "w+"
    #: Architecture family, the key the model store writes next to the weights.
    family: ClassVar[str] = ""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, img_resolution: int, img_channels: int) -> None:
        super().__init__()
        self.name = self.family
        self.z_dim = int(z_dim)
        self.c_dim = int(c_dim)
        self.w_dim = int(w_dim)
        self.img_resolution = int(img_resolution)
        self.img_channels = int(img_channels)
        #: 'const' (reproducible, the default of the official tools' seed grids), 'random' or 'none'.
        self.noise_mode = "const"
        #: Truncate only the first N ws (None = all), NVIDIA's ``truncation_cutoff``.
        self.truncation_cutoff: int | None = None
        #: Disable the float16 layers the original runs on CUDA (CPU is always float32).
        self.force_fp32 = False

    # --- construction -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments (NVIDIA's ``init_kwargs`` in spirit)."""

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> StyleGANGenerator:
        """An uninitialised network of the architecture ``cfg`` describes; load a state dict into it."""
        return cls(**cfg)

    # --- properties ---------------------------------------------------------------------------------------
    @property
    def num_ws(self) -> int:
        return int(self.synthesis.num_ws)

    @property
    def resolution(self) -> int:
        return self.img_resolution

    @property
    def num_classes(self) -> int:
        return self.c_dim

    @property
    def w_avg(self) -> torch.Tensor:
        """The tracked mean of w, the centre truncation pulls toward."""
        return self.mapping.w_avg

    @property
    def device(self) -> torch.device:
        return self.mapping.w_avg.device

    # --- official-style entry points ----------------------------------------------------------------------
    def synthesis_raw(self, ws: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        """``G.synthesis(ws, noise_mode=...)``: NCHW float32, nominally [-1, 1] (not clipped)."""
        mode = self.noise_mode if noise_mode is None else noise_mode
        if mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, not {mode!r}")
        ws = ws.to(self.device)
        if graphs.replayable(ws, mode):
            return graphs.replay(
                self.synthesis,
                lambda w: self.synthesis(w, noise_mode=mode, force_fp32=self.force_fp32),
                ws,
                (mode, self.force_fp32),
            )
        if self.cpu_per_sample and ws.device.type == "cpu" and ws.shape[0] > 1:
            # On a CPU one sample at a time beats every batched formulation we measured (bench_stylegan.py:
            # 185–220 ms/img looped vs 354 ms/img batched at 256 px), and equals the batch-1 reference path.
            return torch.cat(
                [self.synthesis(w, noise_mode=mode, force_fp32=self.force_fp32) for w in ws.split(1)]
            )
        return self.synthesis(ws, noise_mode=mode, force_fp32=self.force_fp32)

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str | None = None,
    ) -> torch.Tensor:
        """``G(z, c, truncation_psi, truncation_cutoff, noise_mode)`` as in NVIDIA's code."""
        ws = self.mapping(z.to(self.device), self._c(c, z.shape[0]), truncation_psi, truncation_cutoff)
        return self.synthesis_raw(ws, noise_mode)

    # --- memstudio Generator API --------------------------------------------------------------------------
    def seed_z(self, seed: int) -> torch.Tensor:
        """``np.random.RandomState(seed).randn(1, z_dim)`` as float64 (the mapping casts to float32)."""
        if not 0 <= int(seed) < 2**32:
            raise MemstudioError(f"seed must be in 0 … 2³²−1, not {seed}")
        return torch.from_numpy(np.random.RandomState(int(seed)).randn(1, self.z_dim))

    def class_vector(self, class_index: int | None, batch: int = 1) -> torch.Tensor:
        """One-hot ``c`` for conditional models, ``[N, 0]`` for unconditional ones."""
        if self.c_dim == 0:
            return torch.zeros([batch, 0], device=self.device)
        if class_index is None:
            raise MemstudioError(
                f"{self.name} is class-conditional with {self.c_dim} classes: choose a class index"
            )
        if not 0 <= int(class_index) < self.c_dim:
            raise MemstudioError(f"class index {class_index} is outside 0 … {self.c_dim - 1} for {self.name}")
        c = torch.zeros([batch, self.c_dim], device=self.device)
        c[:, int(class_index)] = 1
        return c

    def _c(self, c: torch.Tensor | None, batch: int) -> torch.Tensor:
        if c is None:
            return self.class_vector(None, batch)
        return c.to(self.device)

    def sample(self, seed: int, truncation: float = 1.0, class_index: int | None = None) -> Latent:
        z = self.seed_z(seed)
        c = self.class_vector(class_index)
        with torch.no_grad():
            ws = self.mapping(z.to(self.device), c, truncation, self.truncation_cutoff)
        return Latent(
            space="w+",
            values=ws,
            seed=int(seed),
            truncation=float(truncation),
            class_index=None if self.c_dim == 0 else int(class_index),
            label=f"seed {seed}",
            extras={"z": z.to(torch.float32)},
        )

    def _map(self, latent: Latent) -> torch.Tensor:
        z = latent.values.to(self.device)
        c = self.class_vector(latent.class_index, z.shape[0])
        return self.mapping(z, c, latent.truncation, self.truncation_cutoff)

    def _ws(self, latent: Latent) -> torch.Tensor:
        if latent.space == "z":
            return self._map(latent)
        if latent.space == "w":
            return latent.values.to(self.device).unsqueeze(1).repeat([1, self.num_ws, 1])
        if latent.space == "w+":
            ws = latent.values.to(self.device)
            if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
                raise ValueError(f"{self.name}: a w+ latent must be [N, {self.num_ws}, {self.w_dim}]")
            return ws
        raise ValueError(f"{self.name}: unknown latent space {latent.space!r} (have {self.spaces})")

    def convert(self, latent: Latent, space: str) -> Latent:
        if latent.space == space:
            return latent
        if latent.space == "z" and space == "w":
            return Latent(
                "w",
                self._map(latent)[:, 0],
                latent.seed,
                latent.truncation,
                latent.class_index,
                latent.label,
                dict(latent.extras),
            )
        if latent.space in ("z", "w") and space == "w+":
            return Latent(
                "w+",
                self._ws(latent),
                latent.seed,
                latent.truncation,
                latent.class_index,
                latent.label,
                dict(latent.extras),
            )
        return super().convert(latent, space)

    def render(self, latent: Latent) -> torch.Tensor:
        img = self.synthesis_raw(self._ws(latent))
        return (img.clamp(-1, 1) + 1) / 2

    def describe(self) -> dict[str, object]:
        info = super().describe()
        info.update(family=self.family, resolution=self.resolution, num_classes=self.num_classes)
        return info
