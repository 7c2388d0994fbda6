"""What a BigGAN-deep folder's ``config.json`` holds, checked: the fields, the block layout per resolution.

Split from the network (``biggan.py``) because reading and validating a model folder's description is its own
job, shared by the loader and the model store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from memstudio.core.errors import CheckpointError

WEIGHTS_NAME = "pytorch_model.bin"
CONFIG_NAME = "config.json"

# ``(upsample, in_mult, out_mult)`` per GBlock, times ``channel_width``
# (the package's convert_tf_to_pytorch.BigGAN128/256/512).
_LAYERS_128 = [
    (False, 16, 16),
    (True, 16, 16),
    (False, 16, 16),
    (True, 16, 8),
    (False, 8, 8),
    (True, 8, 4),
    (False, 4, 4),
    (True, 4, 2),
    (False, 2, 2),
    (True, 2, 1),
]
_LAYERS_256 = _LAYERS_128[:5] + [(True, 8, 8), (False, 8, 8), (True, 8, 4)] + _LAYERS_128[6:]
_LAYERS_512 = _LAYERS_256 + [(False, 1, 1), (True, 1, 1)]


@dataclass
class BigGANConfig:
    """The fields of the package's ``config.json``; the defaults are BigGAN-deep-128, as in the package."""

    output_dim: int = 128
    z_dim: int = 128
    class_embed_dim: int = 128
    channel_width: int = 128
    num_classes: int = 1000
    layers: list[tuple[bool, int, int]] = field(default_factory=lambda: list(_LAYERS_128))
    attention_layer_position: int = 8
    eps: float = 1e-4
    n_stats: int = 51

    @classmethod
    def deep(cls, resolution: int) -> BigGANConfig:
        """The published BigGAN-deep configuration for 128, 256 or 512 pixels."""
        layers = {128: _LAYERS_128, 256: _LAYERS_256, 512: _LAYERS_512}.get(resolution)
        if layers is None:
            raise ValueError(f"BigGAN-deep exists at 128, 256 and 512 pixels, not {resolution}")
        return cls(output_dim=resolution, layers=list(layers))

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> BigGANConfig:
        """Like the package: keys override the 128 defaults and other keys are ignored. Unlike it, every
        value is checked, so a malformed file fails here and not deep inside a convolution."""
        if not isinstance(values, dict):
            raise CheckpointError(
                f"{source}: a BigGAN config must be a JSON object, got {type(values).__name__}"
            )
        cfg = cls()
        for key, value in values.items():
            if key == "layers":
                cfg.layers = _parse_layers(value, source)
            elif key == "eps":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                    raise CheckpointError(f"{source}: eps must be a positive number, got {value!r}")
                cfg.eps = float(value)
            elif key in cls.__dataclass_fields__:
                minimum = 0 if key == "attention_layer_position" else 1
                if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                    raise CheckpointError(f"{source}: {key} must be an integer >= {minimum}, got {value!r}")
                setattr(cfg, key, value)
        cfg.validate(source)
        return cfg

    def validate(self, source: str = "config") -> None:
        """Reject configs the package would build into a network that cannot run or cannot be BigGAN-deep."""
        if not self.layers:
            raise CheckpointError(f"{source}: layers is empty")
        if self.n_stats < 2:
            raise CheckpointError(f"{source}: n_stats must be at least 2, got {self.n_stats}")
        if self.class_embed_dim != self.z_dim:
            # The package sizes the condition vector as 2 * z_dim, so the embedding must be z_dim wide.
            raise CheckpointError(
                f"{source}: class_embed_dim ({self.class_embed_dim}) must equal z_dim ({self.z_dim})"
            )
        if self.layers[0][1] != 16:
            raise CheckpointError(f"{source}: the first GBlock must take 16 x channel_width channels")
        for i in range(1, len(self.layers)):
            if self.layers[i][1] != self.layers[i - 1][2]:
                raise CheckpointError(f"{source}: layers[{i}] input does not match layers[{i - 1}] output")
        for i, (_, c_in, c_out) in enumerate(self.layers):
            if c_in != c_out and c_in != 2 * c_out:
                # The residual path drops half of the channels, nothing else.
                raise CheckpointError(f"{source}: layers[{i}] must keep or halve its channels")
        if self.layers[-1][2] != 1:
            raise CheckpointError(f"{source}: the last GBlock must output channel_width channels")
        if self.channel_width < 3 or (self.channel_width * self.layers[0][1]) % 4:
            # conv_to_rgb keeps 3 of channel_width outputs; blocks narrow by 4 in the middle.
            raise CheckpointError(f"{source}: channel_width {self.channel_width} is too small")
        if not 0 <= self.attention_layer_position < len(self.layers):
            raise CheckpointError(
                f"{source}: attention_layer_position {self.attention_layer_position} is outside the "
                f"{len(self.layers)} GBlocks"
            )
        if (self.channel_width * self.layers[self.attention_layer_position][1]) % 8:
            raise CheckpointError(f"{source}: self-attention needs a channel count divisible by 8")
        size = 4 * 2 ** sum(1 for up, _, _ in self.layers if up)
        if size != self.output_dim:
            raise CheckpointError(
                f"{source}: the layers upsample 4 px to {size} px, but output_dim is {self.output_dim}"
            )
        attn_size = 4 * 2 ** sum(1 for up, _, _ in self.layers[: self.attention_layer_position] if up)
        if attn_size < 2:
            raise CheckpointError(f"{source}: self-attention needs at least 2x2 features")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in the package's spelling (layers as lists)."""
        values = asdict(self)
        values["layers"] = [list(layer) for layer in self.layers]
        return values


def _parse_layers(raw: object, source: str) -> list[tuple[bool, int, int]]:
    if not isinstance(raw, list):
        raise CheckpointError(f"{source}: layers must be a list of [upsample, in_mult, out_mult]")
    layers = []
    for i, entry in enumerate(raw):
        ok = (
            isinstance(entry, (list, tuple))
            and len(entry) == 3
            and isinstance(entry[0], bool)
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in entry[1:])
        )
        if not ok:
            raise CheckpointError(f"{source}: layers[{i}] must be [bool, int, int], got {entry!r}")
        layers.append((entry[0], entry[1], entry[2]))
    return layers
