"""Grids: seeds × α with row and column labels, a heatmap row, and the layerwise grid of paper 001 §3.4."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image
from test_figures_support import MeanLuma, make_photo, tiny_stylegan2

from memstudio.core.directions.base import Direction, apply_directions
from memstudio.core.figures.build import compose_job, figure_job, make_spec
from memstudio.core.figures.export import sidecar_path
from memstudio.core.figures.render import single_layer
from memstudio.core.figures.sources import FigureSources
from memstudio.core.figures.spec import FigureSpecError
from memstudio.core.imaging import tensor_to_uint8
from memstudio.core.jobs import run_to_end


class RecordingGenerator(torch.nn.Module):
    """Wraps a generator and keeps every latent it renders, to see exactly what an edit changed."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.rendered = []

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)

    def render(self, latent):
        self.rendered.append(latent.values.detach().clone())
        return self.inner.render(latent)


def _w_direction(generator, tmp_path, seed=1):
    torch.manual_seed(seed)
    d = Direction(name="memo", property="memorability", space="w", vector=torch.randn(generator.w_dim))
    path = d.save(tmp_path / "memo")
    return Direction.load(path), path


def test_grid_rows_columns_and_labels(tmp_path):
    g = tiny_stylegan2()
    d, path = _w_direction(g, tmp_path)
    seeds = [3, 7, 11]
    spec = make_spec(
        "grid",
        directions=[(d, path)],
        assessors=[MeanLuma()],
        seeds=seeds,
        generator=g,
        generator_source="tiny",
        alphas=[-1, 0, 1],
        truncation=0.7,
    )
    sources = FigureSources([d], [MeanLuma()], generator=g)
    scene, meta = run_to_end(compose_job(spec, sources))
    texts = [t.text for t in scene.texts()]
    for seed in seeds:
        assert f"seed {seed}" in texts
    assert {"α = −1", "original", "α = +1"} <= set(texts)
    assert len(scene.images()) == len(seeds) * 3
    assert [(p["row"], p["col"]) for p in meta["panels"]] == [(r, c) for r in range(3) for c in range(3)]
    # Each row is the generator's own render of its seed moved by α·d on every W+ layer.
    for row, seed in enumerate(seeds):
        latent = g.sample(seed, 0.7)
        latent = g.convert(latent, "w+") if latent.space != "w+" else latent
        batch = torch.cat([apply_directions(latent, [(d, a)]).values for a in (-1, 0, 1)])
        with torch.inference_mode():
            expected = tensor_to_uint8(g.render(latent.with_values(batch)))
        for p in meta["panels"][3 * row : 3 * row + 3]:
            image = next(i for i in scene.images() if (i.x, i.y) == tuple(p["box"][:2]))
            assert p["seed"] == seed and np.array_equal(image.pixels, expected[p["col"]])
    assert meta["spec"]["generator"]["source"] == "tiny" and meta["spec"]["truncation"] == 0.7

    out = run_to_end(figure_job(spec, sources, tmp_path / "grid.svg"))
    svg_texts = [t.text for t in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert "seed 7" in svg_texts and "original" in svg_texts


def test_layer_grid_changes_only_the_chosen_layer(tmp_path):
    g = RecordingGenerator(tiny_stylegan2())
    d, path = _w_direction(g.inner, tmp_path)
    layers = [0, 3, 5]
    spec = make_spec(
        "layer_grid",
        directions=[(d, path)],
        assessors=[MeanLuma()],
        seeds=[2],
        generator=g.inner,
        generator_source="tiny",
        alphas=[-2, 0, 2],
        layers=layers,
    )
    sources = FigureSources([d], [MeanLuma()], generator=g)
    scene, meta = run_to_end(compose_job(spec, sources))
    assert len(g.rendered) == len(layers)
    for layer, batch in zip(layers, g.rendered, strict=True):
        original = batch[1]
        for col in (0, 2):
            changed = (batch[col] - original).abs().sum(dim=-1) > 0
            assert changed.nonzero().flatten().tolist() == [layer]
    texts = [t.text for t in scene.texts()]
    assert {"layer 0", "layer 3", "layer 5", "α = −2", "α = +2"} <= set(texts)
    originals = [p for p in meta["panels"] if p["alpha"] == 0]
    assert len({p["scores"]["luma"] for p in originals}) == 1  # coefficient 0 is the same image on every row
    with pytest.raises(FigureSpecError, match="layer 6 does not exist"):
        single_layer(d, 6, g.num_ws)


def test_heatmap_row_uses_the_callable(tmp_path):
    photo = make_photo(tmp_path / "p.png", size=(32, 32))
    vector = torch.zeros(10)
    vector[0] = 2.0
    d = Direction(name="exp", property="brightness", space="edit", vector=vector)
    path = d.save(tmp_path / "exp")
    calls = []

    def luma_map(image, assessor):
        calls.append(assessor.name)
        return image.mean(dim=1)[0]  # a [H, W] map: where the image is bright

    spec = make_spec(
        "grid",
        directions=[(d, path)],
        assessors=[MeanLuma()],
        seeds=[str(photo)],
        heatmap={"method": "test", "assessor": "luma"},
    )
    sources = FigureSources([d], [MeanLuma()], map_fn=luma_map)
    scene, meta = run_to_end(compose_job(spec, sources))
    assert calls == ["luma"] * 5
    assert len(scene.images()) == 10  # the row and its heatmap row
    assert "map" in [t.text for t in scene.texts()]
    heat = [i for i in scene.images() if i.y > meta["panels"][0]["box"][1]]
    assert len(heat) == 5 and not np.array_equal(heat[0].pixels, scene.images()[0].pixels)


def test_grid_png_has_row_labels_left_of_panels(tmp_path):
    g = tiny_stylegan2()
    d, path = _w_direction(g, tmp_path)
    spec = make_spec("grid", directions=[(d, path)], assessors=[MeanLuma()], seeds=[1, 2], generator=g)
    out = run_to_end(figure_job(spec, FigureSources([d], [MeanLuma()], generator=g), tmp_path / "g.png"))
    meta = json.loads(sidecar_path(out).read_text())
    left = meta["panels"][0]["box"][0]
    figure = np.asarray(Image.open(out).convert("L"))
    assert left > 20 and (figure[:, : left - 2] < 128).any(), "row labels are drawn in the left margin"
