"""Streamed batch exports keep one row of panels alive at a time and match in-memory exports exactly."""

from __future__ import annotations

import json
import weakref

import numpy as np
import pytest
from PIL import Image
from test_figures_support import MeanLuma, exposure_direction, make_photo

import memstudio.core.figures.stream as stream
from memstudio.core.figures.build import figure_job, make_spec
from memstudio.core.figures.description import read_png_metadata, sidecar_path
from memstudio.core.figures.pngstream import PngStreamWriter
from memstudio.core.figures.sources import FigureSources
from memstudio.core.jobs import run_to_end

ROWS = 20


@pytest.fixture
def batch(tmp_path):
    photos = [make_photo(tmp_path / f"p{i}.png", size=(32, 24), seed=i) for i in range(4)]
    direction, dpath = exposure_direction(tmp_path / "d")
    seeds = [str(photos[i % 4]) for i in range(ROWS)]
    spec = make_spec("grid", directions=[(direction, dpath)], assessors=[MeanLuma()], seeds=seeds)
    return spec, FigureSources([direction], [MeanLuma()])


class LivePanels:
    """Counts Panel objects still alive (weak references), the peak seen while rows are written."""

    def __init__(self, monkeypatch):
        self.refs: list[weakref.ref] = []
        self.created = 0
        self.peak = 0
        original = stream.render_row

        def counting(*args, **kwargs):
            panels = original(*args, **kwargs)
            self.created += len(panels)
            self.refs.extend(weakref.ref(p) for p in panels)
            return panels

        monkeypatch.setattr(stream, "render_row", counting)

    def sample(self) -> None:
        # No gc.collect(): panels hold no cycles, so reference counting frees them once dropped.
        self.peak = max(self.peak, sum(r() is not None for r in self.refs))


def test_tall_grid_streams_one_row_at_a_time_and_matches_in_memory(batch, tmp_path, monkeypatch):
    spec, sources = batch
    counter = LivePanels(monkeypatch)
    original_write = PngStreamWriter.write_rows

    def write_rows(self, rows):
        counter.sample()
        original_write(self, rows)

    monkeypatch.setattr(PngStreamWriter, "write_rows", write_rows)
    job = stream.tall_grid_png_job(spec, sources, tmp_path / "tall.png")
    while True:
        try:
            next(job)
        except StopIteration as stop:
            out = stop.value
            break
        counter.sample()
    assert counter.created == ROWS * 5
    assert counter.peak == 5, "more than one row of panels was alive at once"
    in_memory = run_to_end(figure_job(spec, sources, tmp_path / "whole.png"))
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(in_memory)))
    side = json.loads(sidecar_path(out).read_text())
    whole = json.loads(sidecar_path(in_memory).read_text())
    assert side["panels"] == whole["panels"]
    assert read_png_metadata(out)["spec"] == whole["spec"]


def test_batch_strips_write_one_reproducible_file_per_seed(batch, tmp_path, monkeypatch):
    spec, sources = batch
    spec.seeds = spec.seeds[:3]
    spec.photos = spec.photos[:3]
    counter = LivePanels(monkeypatch)
    job = stream.batch_strips_job(spec, sources, tmp_path / "out", ("png", "svg"))
    written = []
    while True:
        try:
            next(job)
            counter.sample()
        except StopIteration as stop:
            written = stop.value
            break
    assert len(written) == 6 and counter.created == 15 and counter.peak == 0
    meta = read_png_metadata(written[0])
    assert meta["spec"]["kind"] == "strip" and meta["spec"]["seeds"] == [spec.seeds[0]]
    assert meta["spec"]["photos"] == [spec.photos[0]]
    # Each seed's PNG and SVG sidecars name both of that seed's files (and only those).
    side = json.loads((tmp_path / "out" / "000_p0.svg.json").read_text())
    assert side["formats"] == [{"path": str(p), "format": p.suffix[1:]} for p in written[:2]]
    assert [p.name for p in written[:2]] == ["000_p0.png", "000_p0.svg"]


def test_cancelled_stream_leaves_no_partial_png(batch, tmp_path):
    spec, sources = batch
    folder = tmp_path / "figs"
    folder.mkdir()
    (folder / "part.png").write_bytes(b"an older figure")
    job = stream.tall_grid_png_job(spec, sources, folder / "part.png")
    for _ in range(3):
        next(job)
    # Rows go to a hidden temporary file beside the target; the old figure stays whole until the swap.
    hidden = [p.name for p in folder.iterdir() if p.name != "part.png"]
    assert len(hidden) == 1 and hidden[0].startswith(".part.png.")
    assert (folder / "part.png").read_bytes() == b"an older figure"
    job.close()
    assert sorted(p.name for p in folder.iterdir()) == ["part.png"]
    assert (folder / "part.png").read_bytes() == b"an older figure"


def test_png_stream_writer_rejects_wrong_rows(tmp_path):
    with PngStreamWriter(tmp_path / "x.png", 4, 2, 72.0) as writer:
        with pytest.raises(ValueError, match="expected rows"):
            writer.write_rows(np.zeros((1, 5, 3), np.uint8))
        writer.write_rows(np.full((2, 4, 3), 200, np.uint8))
        with pytest.raises(ValueError, match="more rows"):
            writer.write_rows(np.zeros((1, 4, 3), np.uint8))
    assert np.asarray(Image.open(tmp_path / "x.png")).tolist() == np.full((2, 4, 3), 200).tolist()
