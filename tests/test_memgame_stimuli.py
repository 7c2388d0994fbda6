"""Memory-game stimulus sets: constraints, counterbalancing, determinism, manifests, atomic export."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from memstudio.core.experiments.errors import DesignError
from memstudio.core.experiments.sequence_io import export_design, read_sequence, sequence_to_csv
from memstudio.core.experiments.stimuli import (
    TARGET_FIRST,
    TARGET_REPEAT,
    VIGILANCE_REPEAT,
    GameConfig,
    StimulusSet,
    build_design,
)
from memstudio.core.experiments.targets import collect_targets, targets_from_manifest, targets_from_paths
from memstudio.core.experiments.validate import validate_design

SMALL = GameConfig(
    length=40, targets_per_sequence=5, vigilance_per_sequence=3, target_span=(6, 20), vigilance_span=(0, 3)
)
ALPHAS = (-0.2, -0.1, 0.0, 0.1, 0.2)


def _png(path: Path, value: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (value % 256, (value * 7) % 256, (value * 13) % 256)).save(path)
    return path


def _strip_targets(root: Path, n_seeds: int) -> list[Path]:
    return [
        _png(root / f"seed{s:04d}_alpha{a:+.1f}.png", 10 * s + i)
        for s in range(n_seeds)
        for i, a in enumerate(ALPHAS)
    ]


def _fillers(root: Path, n: int) -> list[Path]:
    return [_png(root / f"filler{i:03d}.png", 200 + i) for i in range(n)]


@pytest.fixture()
def stimuli(tmp_path: Path) -> StimulusSet:
    targets = targets_from_paths(_strip_targets(tmp_path / "targets", 8))
    return StimulusSet(targets, _fillers(tmp_path / "fillers", 40))


def test_naming_rule_groups_versions_of_a_seed(tmp_path: Path) -> None:
    targets = targets_from_paths(
        [Path("seed0042_alpha-0.2.png"), Path("seed0042_a0.1.png"), Path("beach.jpg")]
    )
    assert [(t.seed_id, t.version, t.alpha) for t in targets] == [
        ("seed0042", "-0.2", -0.2),
        ("seed0042", "0.1", 0.1),
        ("beach", "", None),
    ]


def test_every_constraint_holds_and_versions_are_counterbalanced(stimuli: StimulusSet) -> None:
    design = build_design(stimuli, 10, SMALL, seed=3)
    versions = {s: [t.version for t in v] for s, v in stimuli.seeds().items()}
    assert validate_design(design.sequences, design.config, versions) == []
    shown: Counter[tuple[str, str]] = Counter()
    for seq in design.sequences:
        firsts = [t for t in seq.trials if t.kind == TARGET_FIRST]
        assert len({t.seed_id for t in firsts}) == len(firsts) == 5  # one version per seed
        for t in seq.trials:
            if t.kind == TARGET_REPEAT:
                assert 6 <= t.delay <= 20
            if t.kind == VIGILANCE_REPEAT:
                assert 0 <= t.delay <= 3
        shown.update((t.seed_id, t.version) for t in firsts)
    # 10 participants × 5 seeds each = 50 showings over 8 seeds × 5 versions: every version of a seed
    # within one showing of the others.
    for seed_id, vs in versions.items():
        counts = [shown[(seed_id, v)] for v in vs]
        assert max(counts) - min(counts) <= 1, (seed_id, counts)


def test_latin_square_when_every_seed_fits(tmp_path: Path) -> None:
    # One seed per row of a strip, all seeds in every sequence: participant p sees version (offset + p) mod 5.
    targets = targets_from_paths(_strip_targets(tmp_path / "t", 3))
    st = StimulusSet(targets, _fillers(tmp_path / "f", 40))
    design = build_design(st, 5, SMALL, seed=1)
    table = np.array(
        [
            [
                ALPHAS.index(
                    next(
                        t.alpha for t in seq.trials if t.kind == TARGET_FIRST and t.seed_id == f"seed{s:04d}"
                    )
                )
                for s in range(3)
            ]
            for seq in design.sequences
        ]
    )
    for col in table.T:
        assert sorted(col) == [0, 1, 2, 3, 4]  # each participant a different α of this seed
        assert all((col[p + 1] - col[p]) % 5 == 1 for p in range(4))  # rotated by one per participant


def test_same_seed_same_design_other_seed_differs(stimuli: StimulusSet) -> None:
    a = build_design(stimuli, 4, SMALL, seed=7)
    b = build_design(stimuli, 4, SMALL, seed=7)
    c = build_design(stimuli, 4, SMALL, seed=8)
    text = [sequence_to_csv(s) for s in a.sequences]
    assert text == [sequence_to_csv(s) for s in b.sequences]
    assert text != [sequence_to_csv(s) for s in c.sequences]
    # A participant's sequence does not depend on how many come after them.
    assert sequence_to_csv(build_design(stimuli, 6, SMALL, seed=7).sequences[0]) == text[0]


def test_paper_shapes_build(tmp_path: Path) -> None:
    targets = targets_from_paths(_strip_targets(tmp_path / "t", 66))
    st = StimulusSet(targets, _fillers(tmp_path / "f", 110))
    from memstudio.core.experiments.stimuli import GANALYZE_GAME, LAMEM_GAME

    for config in (GANALYZE_GAME, LAMEM_GAME):
        design = build_design(st, 3, config, seed=0)
        assert validate_design(design.sequences, design.config) == []
        assert len(design.sequences[0].trials) == config.length


def test_export_writes_images_and_sequences_atomically(stimuli: StimulusSet, tmp_path: Path) -> None:
    design = build_design(stimuli, 3, SMALL, seed=2)
    out = export_design(design, tmp_path / "game")
    meta = json.loads((out / "design.json").read_text())
    assert meta["participants"] == ["P001", "P002", "P003"]
    for pid in meta["participants"]:
        from_csv = read_sequence(out / "sequences" / f"{pid}.csv")
        from_json = read_sequence(out / "sequences" / f"{pid}.json")
        assert from_csv.trials == from_json.trials == design.sequences[int(pid[1:]) - 1].trials
        assert all((out / t.image).is_file() for t in from_csv.trials)
    with pytest.raises(DesignError, match="already exists"):
        export_design(design, out)
    # A source that vanishes mid-export leaves no output folder behind.
    next(iter(design.stimuli.fillers)).unlink()
    with pytest.raises(DesignError, match="cannot copy"):
        export_design(design, tmp_path / "game2")
    assert not (tmp_path / "game2").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".game2")] == []


def test_manifests_csv_json_and_errors(tmp_path: Path) -> None:
    imgs = _strip_targets(tmp_path / "panels", 2)
    rows = "image,seed_id,alpha\n" + "".join(
        f"panels/{p.name},s{i // 5},{ALPHAS[i % 5]}\n" for i, p in enumerate(imgs)
    )
    (tmp_path / "m.csv").write_text(rows)
    from_csv = targets_from_manifest(tmp_path / "m.csv")
    items = [
        {"image": f"panels/{p.name}", "seed_id": f"s{i // 5}", "alpha": ALPHAS[i % 5]}
        for i, p in enumerate(imgs)
    ]
    (tmp_path / "m.json").write_text(json.dumps({"images": items}))
    from_json = collect_targets([tmp_path / "m.json"])
    assert from_csv == from_json
    assert {t.seed_id for t in from_csv} == {"s0", "s1"} and from_csv[1].alpha == -0.1
    (tmp_path / "bad.csv").write_text(
        "image,seed_id,alpha\npanels/a.png,s0,0.1\npanels/b.png,,0.2\nx.png,s1,high\n"
    )
    with pytest.raises(DesignError) as err:
        targets_from_manifest(tmp_path / "bad.csv")
    assert f"{tmp_path / 'bad.csv'}:3: image and seed_id are both required" in str(err.value)
    assert f"{tmp_path / 'bad.csv'}:4: alpha 'high' is not a number" in str(err.value)
    sidecar = {"spec": {"kind": "strip"}, "panels": [{"seed": 1, "alpha": 0.1, "scores": {}}]}
    (tmp_path / "strip.json").write_text(json.dumps(sidecar))
    with pytest.raises(DesignError, match="composite strip"):
        targets_from_manifest(tmp_path / "strip.json")


def test_bad_stimuli_are_reported(tmp_path: Path) -> None:
    targets = targets_from_paths(_strip_targets(tmp_path / "t", 2))
    (tmp_path / "t" / "broken_alpha0.5.png").write_bytes(b"not an image")
    targets += targets_from_paths(
        [tmp_path / "t" / "broken_alpha0.5.png", tmp_path / "t" / "gone_alpha0.1.png"]
    )
    with pytest.raises(DesignError) as err:
        build_design(StimulusSet(targets, _fillers(tmp_path / "f", 40)), 2, SMALL)
    assert "broken_alpha0.5.png: target is not a readable image" in str(err.value)
    assert "gone_alpha0.1.png: target image does not exist" in str(err.value)
    ok = targets_from_paths(_strip_targets(tmp_path / "t2", 2))
    with pytest.raises(DesignError, match="needs 27 distinct filler images"):
        build_design(StimulusSet(ok, _fillers(tmp_path / "f2", 10)), 2, SMALL)
    with pytest.raises(DesignError, match="impossible memory-game configuration"):
        build_design(
            StimulusSet(ok, _fillers(tmp_path / "f", 40)), 2, GameConfig(length=10, target_span=(5, 2))
        )
