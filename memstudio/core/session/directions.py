"""The directions feature's commands and tasks: open, check, train, condition and dissect directions.

Everything here runs on the engine thread — the job commands :class:`TrainDirection` and
:class:`AnalyzeLayers` (``Engine.submit``) and the one-shot commands :class:`OpenDirection`,
:class:`RecheckDirections`, :class:`GeneratorContext`, :class:`MakeConditional` and :class:`SaveLayerwiseCopy`
(``Engine.request``) — and hands plain values back to the GUI thread: a direction's *info* dict (what a slider
row shows) rather than the :class:`Direction` itself, so the widgets never touch tensors. Training and the
layer analysis are the core's one implementation (:func:`~memstudio.core.directions.train.train_direction`,
:func:`~memstudio.core.directions.layer_job.analyze_and_record`), the same the CLI runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstudio.core.directions.shipped import is_shipped
from memstudio.core.directions.train import TrainDirectionSettings, train_direction
from memstudio.core.errors import MemstudioError
from memstudio.core.jobs import Progress

if TYPE_CHECKING:
    from memstudio.core.directions.base import Direction
    from memstudio.core.generators.base import Generator
    from memstudio.core.pipeline import Pipeline

# ----- opening and checking ---------------------------------------------------------------------------------
def expected_shape(generator: Generator, space: str) -> tuple[int, ...]:
    """Shape of one latent of ``generator`` in ``space`` (no batch), read from the generator itself."""
    from memstudio.core.directions.sampling import z_shape
    from memstudio.core.generators.base import Latent

    if space == "z":
        return z_shape(generator)
    import torch

    z = torch.zeros(1, *z_shape(generator), device=_device_of(generator))
    class_index = getattr(generator, "default_class", 0) if generator.num_classes else None
    return tuple(generator.convert(Latent("z", z, class_index=class_index), space).values.shape[1:])


def check_fit(pipeline: Pipeline, direction: Direction, source: str) -> None:
    """Raise a :class:`DirectionError` naming ``source`` when ``direction`` cannot edit what the studio holds.

    Photo directions ("edit") fit the built-in photo editor whenever their length matches its parameters.
    GAN directions need the generator they were trained on: same latent space, same shape, same checkpoint.
    """
    from memstudio.core.directions.base import DirectionError
    from memstudio.core.directions.shipped import check_editor_version, is_shipped
    from memstudio.core.generators.edit_params import PARAMETERS

    name = direction.name
    if direction.space == "edit":
        check_editor_version(direction, source, required=is_shipped(source))
        if tuple(direction.vector.shape) != (len(PARAMETERS),):
            raise DirectionError(
                f"{source}: photo direction {name!r} has shape {tuple(direction.vector.shape)}, "
                f"the photo editor has {len(PARAMETERS)} parameters"
            )
        return
    generator = pipeline.generator
    trained_on = str(direction.generator.get("name") or "a GAN")
    if generator is None:
        raise DirectionError(
            f"{source}: direction {name!r} edits the {direction.space!r} latent of {trained_on}; "
            "open that generator first (File ▸ Open generator…)"
        )
    usable = direction.space in generator.spaces or (direction.space == "w" and "w+" in generator.spaces)
    if not usable:
        raise DirectionError(
            f"{source}: direction {name!r} lives in {direction.space!r}; generator {generator.name!r} "
            f"has {', '.join(generator.spaces)}"
        )
    want = expected_shape(generator, direction.space)
    if tuple(direction.vector.shape) != want:
        raise DirectionError(
            f"{source}: direction {name!r} has shape {tuple(direction.vector.shape)} in {direction.space!r}, "
            f"generator {generator.name!r} needs {want}"
        )
    trained_hash = str(direction.generator.get("checkpoint_sha256") or "")
    current_hash = str(generator.checkpoint_hash or "")
    if trained_hash and current_hash and trained_hash != current_hash:
        raise DirectionError(
            f"{source}: direction {name!r} was trained on {trained_on} (sha256 {trained_hash[:12]}…), "
            f"but the open generator is {generator.name!r} (sha256 {current_hash[:12]}…)"
        )


def evidence_summary(direction: Direction) -> str:
    """The tooltip's evidence: β with its CI and R² (paper 000 §3.1), or why there is none."""
    from memstudio.core.directions.evidence import SlopeFit, slope_summary
    from memstudio.core.directions.train import evidence_warnings

    evidence = direction.evidence
    if "beta" not in evidence:
        return "no evidence yet (evaluate it: memstudio direction eval)"
    low, high = evidence.get("ci95", (float("nan"), float("nan")))
    fit = SlopeFit(
        beta=float(evidence["beta"]),
        ci_low=float(low),
        ci_high=float(high),
        se=float(evidence.get("se", float("nan"))),
        r2=float(evidence.get("r2", float("nan"))),
        df=int(evidence.get("df", 0)),
        p_value=float(evidence.get("p_value", float("nan"))),
    )
    summary = f"{slope_summary(fit)}, n = {evidence.get('num_samples', '?')} held-out samples"
    return "\n".join([summary, *(f"⚠ {w}" for w in evidence_warnings(evidence))])


def layer_plot_png(direction: Direction) -> bytes | None:
    """The layer-effect plot (001 Fig. 9) of a stored analysis as PNG bytes, or None without one."""
    from memstudio.core.directions.layerwise import LayerAnalysis

    stored = direction.evidence.get("layers")
    if not isinstance(stored, dict):
        return None
    analysis = LayerAnalysis(**stored)
    with tempfile.TemporaryDirectory(prefix="memstudio-layers-") as folder:
        return analysis.plot(Path(folder) / "layers.png").read_bytes()


def direction_info(direction_id: str, direction: Direction, path: str | None) -> dict[str, Any]:
    """Everything a slider row and the layer dock show about a direction, as plain values."""
    layer_weights = None if direction.layer_weights is None else [float(w) for w in direction.layer_weights]
    return {
        "id": direction_id,
        "name": direction.name,
        "property": direction.property,
        "method": direction.method,
        "space": direction.space,
        "alpha_range": (float(direction.alpha_range[0]), float(direction.alpha_range[1])),
        "assessor": str(direction.assessor.get("name", "")),
        "beta": direction.evidence.get("beta"),
        "summary": evidence_summary(direction),
        "path": path,
        "layer_weights": layer_weights,
        "layer_plot": layer_plot_png(direction),
        "cosines": direction.metrics.get("conditional_cosines"),
        "make_up": make_up(direction),
        "shipped": path is not None and is_shipped(path),
    }


def make_up(direction: Direction) -> str | None:
    """A photo direction's confound line for the tooltip ("mostly: vignette −, exposure +"), else None."""
    from memstudio.core.directions.shipped import edit_loadings, loadings_summary

    if direction.space != "edit":
        return None
    stored = direction.evidence.get("edit_parameters")
    loadings = stored if isinstance(stored, dict) else edit_loadings(direction.vector)
    return loadings_summary({str(k): float(v) for k, v in loadings.items()})


@dataclass(frozen=True)
class OpenDirection:
    """Load ``path``, check that it fits, and make it available to renders under ``direction_id``; result:
    the direction's info dict."""

    path: str
    direction_id: str

    def run(self, pipeline: Pipeline) -> dict[str, Any]:
        from memstudio.core.directions.base import Direction

        direction = Direction.load(self.path)
        check_fit(pipeline, direction, self.path)
        return _keep(pipeline, self.direction_id, direction, str(Path(self.path).with_suffix(".json")))


@dataclass(frozen=True)
class RecheckDirections:
    """After the generator changed: per loaded direction, None when it still fits, else why it does not."""

    direction_ids: tuple[str, ...]

    def run(self, pipeline: Pipeline) -> dict[str, str | None]:
        reasons: dict[str, str | None] = {}
        for direction_id in self.direction_ids:
            direction = pipeline.directions.get(direction_id)
            if direction is None:
                continue
            try:
                check_fit(pipeline, direction, pipeline.direction_paths.get(direction_id, direction.name))
                reasons[direction_id] = None
            except MemstudioError as exc:
                reasons[direction_id] = str(exc)
        return reasons


@dataclass(frozen=True)
class GeneratorContext:
    """The current generator's spaces and W+ layout, for the dialog and the layer dock (None: no generator)."""

    def run(self, pipeline: Pipeline) -> dict[str, Any] | None:
        from memstudio.core.directions.layerwise import layer_groups

        generator = pipeline.generator
        if generator is None:
            return None
        num_ws = int(generator.num_ws)
        return {
            "name": generator.name,
            "spaces": list(generator.spaces),
            "num_ws": num_ws,
            "resolution": int(generator.resolution),
            "groups": layer_groups(num_ws, int(generator.resolution)) if num_ws else {},
            "w_plus": "w+" in generator.spaces and num_ws > 0,
        }


# ----- conditional and layerwise ----------------------------------------------------------------------------
@dataclass(frozen=True)
class MakeConditional:
    """Make the base direction orthogonal to the kept ones (001 A.5), save it to ``output`` and load it as
    ``direction_id``; result: its info dict (with the cosines). ``keep_norm`` and ``name`` are
    :func:`~memstudio.core.directions.conditional.make_conditional`'s (``direction project`` sets them)."""

    base_id: str
    keep_ids: tuple[str, ...]
    output: str
    direction_id: str
    keep_norm: bool = True
    name: str | None = None

    def run(self, pipeline: Pipeline) -> dict[str, Any]:
        from memstudio.core.directions.conditional import make_conditional

        base = _loaded(pipeline, self.base_id)
        keep = [_loaded(pipeline, k) for k in self.keep_ids]
        sources = [pipeline.direction_paths.get(i) for i in (self.base_id, *self.keep_ids)]
        refuse_direction_inputs(self.output, sources)
        new = make_conditional(base, keep, keep_norm=self.keep_norm, name=self.name)
        return _keep(pipeline, self.direction_id, new, str(new.save(self.output)))


@dataclass(frozen=True)
class SaveLayerwiseCopy:
    """Save a copy of a direction acting with the layer dock's coefficients (the CLI's ``layers --apply``) and
    load it as ``new_id``; result: its info dict."""

    direction_id: str
    weights: tuple[float, ...]
    output: str
    new_id: str

    def run(self, pipeline: Pipeline) -> dict[str, Any]:
        from memstudio.core.directions.layerwise import with_layers

        direction = _loaded(pipeline, self.direction_id)
        refuse_direction_inputs(self.output, [pipeline.direction_paths.get(self.direction_id)])
        layers = [i for i, w in enumerate(self.weights) if w != 0.0]
        coefficients = [self.weights[i] for i in layers]
        new = with_layers(direction, len(self.weights), layers, coefficients)
        new = replace(new, name=f"{direction.name}-layers")
        return _keep(pipeline, self.new_id, new, str(new.save(self.output)))


def refuse_direction_inputs(output: str | Path, inputs: list[str | Path | None]) -> None:
    """Refuse to write a new direction (``NAME.json`` + ``NAME.safetensors``) over one it is made from."""
    from memstudio.core.atomic import refuse_inputs

    output = Path(output).with_suffix(".json")
    sources = [Path(p).with_suffix(suffix) for p in inputs if p is not None for suffix in (".json", ".safetensors")]
    refuse_inputs([output, output.with_suffix(".safetensors")], sources)


def _keep(pipeline: Pipeline, direction_id: str, direction: Direction, path: str) -> dict[str, Any]:
    """Make ``direction`` available to renders under ``direction_id``; its info for the GUI thread."""
    pipeline.directions[direction_id] = direction
    pipeline.direction_paths[direction_id] = path
    return direction_info(direction_id, direction, path)


@dataclass(frozen=True)
class TrainDirection:
    """Train a direction with the core's one implementation, on photos or on the pipeline's generator."""

    settings: TrainDirectionSettings
    on_photos: bool

    @property
    def title(self) -> str:
        settings = self.settings
        what = "GANalyze" if settings.method == "ganalyze" else "Hyperplane"
        where = f"{len(settings.photos)} photos" if self.on_photos else "the generator"
        return f"{what} · {settings.assessor} on {where} → {Path(settings.output).name}"

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]:
        generator = None if self.on_photos else _generator_of(pipeline)
        assessor = pipeline.assessor(self.settings.assessor)
        return train_direction(self.settings, assessor, generator, pipeline.device)


@dataclass(frozen=True)
class EstimateTraining:
    """Measure what a :class:`TrainDirection` with these settings will cost here (nothing is trained or
    written); the result is a :class:`~memstudio.core.directions.estimate.TrainEstimate`."""

    settings: TrainDirectionSettings
    on_photos: bool

    @property
    def title(self) -> str:
        return f"Estimating · {self.settings.method} · {self.settings.assessor}"

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]:
        from memstudio.core.directions.estimate import estimate_training

        generator = None if self.on_photos else _generator_of(pipeline)
        assessor = pipeline.assessor(self.settings.assessor)
        return estimate_training(self.settings, assessor, generator, pipeline.device)


@dataclass(frozen=True)
class AnalyzeLayers:
    """The layer-effect analysis of a loaded direction (001 Fig. 9), recorded in its file; result: a dict
    with ``summary``, the direction's new ``info`` and the ``files`` written."""

    direction_id: str
    assessor: str
    num_samples: int
    batch_size: int = 8
    name: str = ""

    @property
    def title(self) -> str:
        return f"Layer analysis · {self.name or self.direction_id} ({self.assessor}, K = {self.num_samples})"

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]:
        if pipeline.generator is None:
            raise MemstudioError("the layer analysis renders W+ latents: open a StyleGAN generator first")
        return self._analyze(pipeline, pipeline.generator, _loaded(pipeline, self.direction_id))

    def _analyze(self, pipeline: Pipeline, generator: Generator, direction: Direction) -> Iterator[Progress]:
        from memstudio.core.directions.layer_job import analyze_and_record

        assessor = pipeline.assessor(self.assessor)
        path = pipeline.direction_paths.get(self.direction_id)
        result = yield from analyze_and_record(
            generator, assessor, direction, path, num_samples=self.num_samples, batch_size=self.batch_size
        )
        pipeline.directions[self.direction_id] = result.direction
        return {
            "summary": result.summary,
            "info": direction_info(self.direction_id, result.direction, path),
            "files": [str(f) for f in result.files],
        }


def _generator_of(pipeline: Pipeline) -> Generator:
    if pipeline.generator is None:
        raise MemstudioError("no generator is loaded: open one, or train on photos")
    return pipeline.generator


def _loaded(pipeline: Pipeline, direction_id: str) -> Direction:
    direction = pipeline.directions.get(direction_id)
    if direction is None:
        raise MemstudioError(f"direction {direction_id!r} is not loaded")
    return direction


def _device_of(generator: Generator) -> Any:
    from memstudio.core.directions.sampling import module_device

    return module_device(generator)
