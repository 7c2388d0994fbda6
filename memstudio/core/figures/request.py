"""What the studio's Export dialog asks for, and how the engine turns it into a figure (no Qt here).

The dialog builds a :class:`FigureRequest` on the GUI thread: small, immutable, free of torch (so building it
costs nothing). The engine thread resolves it against its :class:`~memstudio.core.pipeline.Pipeline` — the
loaded generator, directions and assessors — into the same :class:`FigureSpec` and :class:`FigureSources` the
CLI builds, and then runs the same jobs (:func:`build.figure_job`, :func:`stream.batch_strips_job`,
:func:`plots.computed_plot_job`). That is what makes a figure exported from the studio equal, pixel for pixel,
to the one ``memstudio strip --from`` renders from its sidecar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstudio.core.errors import MemstudioError
from memstudio.core.requests import PhotoSubject, SeedSubject, Subject

if TYPE_CHECKING:
    import numpy as np

    from memstudio.core.directions.base import Direction
    from memstudio.core.figures.sources import FigureSources
    from memstudio.core.figures.spec import FigureSpec
    from memstudio.core.pipeline import Pipeline

#: Direction keys: ``pipeline:<id>`` (loaded in the studio), ``edit:<parameter>`` (one photo-edit parameter),
#: ``file:<path>`` (a direction file chosen in the dialog).
DIRECTION_PREFIXES = ("pipeline:", "edit:", "file:")


@dataclass(frozen=True)
class FigureRequest:
    """One figure the user asked for. ``seeds`` empty: the subject alone (photo path or GAN seed)."""

    kind: str
    subject: Subject
    direction: str
    alphas: tuple[float, ...] = (-0.2, -0.1, 0.0, 0.1, 0.2)
    assessors: tuple[str, ...] = ("brightness",)
    seeds: tuple[int | str, ...] = ()
    layers: tuple[int, ...] = ()
    label: tuple[tuple[str, Any], ...] = ()  # LabelStyle fields
    output: tuple[tuple[str, Any], ...] = ()  # OutputOptions fields
    photo_max_side: int = 512
    plot_error: str = "sem"
    #: A heatmap row under each row (``method``, ``assessor``; empty: none), as ``strip --heatmap-row``.
    heatmap: tuple[tuple[str, Any], ...] = ()
    extras: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_photo(self) -> bool:
        return isinstance(self.subject, PhotoSubject)


def open_direction(pipeline: Pipeline, key: str, for_file: bool) -> tuple[Direction, Path | None]:
    """The direction ``key`` names, with the file a figure should cite (None for a preview).

    In-memory directions are saved content-addressed in the cache (:func:`inputs.stored_direction`) when a
    figure is exported, so its sidecar names a real file and ``--from`` can render it again.
    """
    from memstudio.core.directions.base import Direction
    from memstudio.core.figures.inputs import edit_parameter_direction, stored_direction

    if key.startswith("file:"):
        path = Path(key[len("file:") :])
        return Direction.load(path), path.with_suffix(".json")
    if key.startswith("edit:"):
        direction = edit_parameter_direction(key[len("edit:") :])
    elif key.startswith("pipeline:"):
        ident = key[len("pipeline:") :]
        if ident not in pipeline.directions:
            raise MemstudioError(f"direction {ident!r} is no longer loaded")
        direction = pipeline.directions[ident]
        known = getattr(pipeline, "direction_paths", {}).get(ident)
        if known is not None and Path(known).with_suffix(".json").is_file():
            return direction, Path(known).with_suffix(".json")
    else:
        raise MemstudioError(f"unknown direction {key!r}; expected one of {', '.join(DIRECTION_PREFIXES)}")
    return direction, (stored_direction(direction) if for_file else None)


def resolve(
    pipeline: Pipeline, request: FigureRequest, for_file: bool = True
) -> tuple[FigureSpec, FigureSources]:
    """The spec and live sources of ``request`` (on the engine thread: the models are the pipeline's)."""
    from memstudio.core.figures.build import make_spec
    from memstudio.core.figures.sources import FigureSources
    from memstudio.core.figures.spec import FigureSpecError, LabelStyle, OutputOptions

    direction, path = open_direction(pipeline, request.direction, for_file)
    if not request.assessors:
        raise FigureSpecError("choose at least one assessor for the labels")
    # As the canvas scores them: ovalized where the user ticked "Ovalize before scoring". The spec records
    # it (the assessor entry says ``"ovalized": "detect"`` and is named ``resmem+oval``), as do the labels.
    assessors = [pipeline.scoring_assessor(name) for name in request.assessors]
    subject = request.subject
    common: dict[str, Any] = {"alphas": request.alphas, "layers": request.layers}
    if isinstance(subject, PhotoSubject):
        if direction.space != "edit":
            raise FigureSpecError(
                f"direction {direction.name!r} edits a {direction.space!r} latent; a photo needs an 'edit' "
                "direction (or an edit parameter)"
            )
        generator = None
        seeds: list[int | str] = list(request.seeds) or [subject.path]
    elif isinstance(subject, SeedSubject):
        generator = pipeline.generator
        if generator is None:
            raise FigureSpecError("no generator is loaded: a seed figure needs one")
        seeds = list(request.seeds) or [subject.seed]
        common.update(truncation=subject.truncation, class_index=subject.class_index)
        common["generator_source"] = getattr(pipeline, "generator_source", None) or generator.name
    else:
        raise FigureSpecError("figures are exported from a photo or a GAN seed; open one first")
    if request.kind == "layer_grid" and not request.layers:
        common["layers"] = list(range(generator.num_ws)) if generator is not None else []
    if request.kind == "plot":
        # Exactly what `memstudio plot` records: default label; output = dpi, title and the physical size.
        out = dict(request.output)
        size = {k: out[k] for k in ("width_in", "font_pt", "line_pt") if k in out}
        options: dict[str, Any] = {
            "output": OutputOptions(dpi=out.get("dpi", 150.0), title=out.get("title", ""), **size)
        }
    else:
        options = {
            "label": LabelStyle(**dict(request.label)),
            "output": OutputOptions(**dict(request.output)),
            "photo_max_side": request.photo_max_side,
        }
    map_fn = None
    # The preview leaves the maps out: each α's map costs seconds with ResMem, the preview must not.
    if request.heatmap and request.kind in ("strip", "grid") and for_file:
        from memstudio.core.figures.sources import heatmap_fn

        options["heatmap"] = dict(request.heatmap)
        map_fn = heatmap_fn(options["heatmap"])
    spec = make_spec(
        request.kind,
        directions=[(direction, path)],
        assessors=assessors,
        seeds=seeds,
        generator=generator,
        **common,
        **options,
    )
    return spec, FigureSources([direction], assessors, generator, map_fn, pipeline.device)


def preview_pixels(pipeline: Pipeline, request: FigureRequest) -> np.ndarray:
    """The figure as its PNG would look (``[H, W, 3]`` uint8), for the dialog's live preview."""
    import numpy as np

    spec, sources = resolve(pipeline, request, for_file=False)
    if spec.kind == "plot":
        from memstudio.core.figures.plots import plot_image

        return np.asarray(plot_image(spec, sources, request.plot_error).convert("RGB"))
    from memstudio.core.figures.build import preview

    return np.asarray(preview(spec, sources).convert("RGB"))


def export_job(
    pipeline: Pipeline, request: FigureRequest, path: str | Path, panels_dir: str | Path | None = None
) -> Any:
    """Render and write the figure (a job for the engine); returns the written path."""
    spec, sources = resolve(pipeline, request)
    if spec.kind == "plot":
        from memstudio.core.figures.plots import computed_plot_job

        written = yield from computed_plot_job(spec, sources, path, request.plot_error)
        return written[0]
    from memstudio.core.figures.build import figure_job

    return (yield from figure_job(spec, sources, path, panels_dir))


def batch_job(
    pipeline: Pipeline,
    request: FigureRequest,
    out_dir: str | Path,
    fmt: str = "png",
    panels_dir: str | Path | None = None,
) -> Any:
    """One strip per seed or photo of ``request.seeds`` into ``out_dir`` (a job); returns the paths."""
    from dataclasses import replace

    from memstudio.core.figures.stream import batch_strips_job

    if not request.seeds:
        raise MemstudioError("a batch export needs seeds or photos (select them in the seed browser)")
    spec, sources = resolve(pipeline, replace(request, kind="strip"))
    return (yield from batch_strips_job(spec, sources, out_dir, (fmt,), panels_dir))
