"""The shipped photo set: its list, its licences' parsing and the fixed train / held-out split by photo."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from memstudio.core.errors import MemstudioError
from memstudio.devtools import photoset

DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2014 Someone
License: GPL-2+

Files: 16.04/seeding_by_Clements_Engelhardt.jpg
Copyright: Clemens Engelhardt, 2018
License: CC0-1.0

Files: nature/*.jpg
Copyright: 2008, A Photographer
License: CC-BY-SA-4.0

Files: debian/*
Copyright: 2018, Packager
License: Expat
"""


def test_split_list_is_by_photo_fixed_and_the_cores_own() -> None:
    split = photoset.read_split()
    names = [photoset.file_name(p) for p in photoset.PHOTOS]
    assert len(set(names)) == len(names) == len(split)  # every listed photo once, no two share a name
    heldout = {n for n, s in split.items() if s == "heldout"}
    train = {n for n, s in split.items() if s == "train"}
    assert not heldout & train and heldout | train == set(names)
    assert len(heldout) == photoset.HELDOUT >= 20
    # The committed list is exactly what the core's split_photos gives the training (seed, count).
    core_train, core_heldout = photoset.shipped_split(names)
    assert set(core_heldout) == heldout and set(core_train) == train


def test_dep5_licence_takes_the_last_matching_stanza() -> None:
    assert photoset.dep5_licence(DEP5, "nature/Dune.jpg") == ("CC-BY-SA-4.0", "2008, A Photographer")
    # lomiri installs 16.04/NAME.jpg flattened into backgrounds/: its own stanza still names it.
    assert photoset.dep5_licence(DEP5, "seeding_by_Clements_Engelhardt.jpg")[0] == "CC0-1.0"
    # debian/* is the packaging's licence, not the pictures'.
    assert photoset.dep5_licence(DEP5, "desktop/Other.png")[0] == "GPL-2+"


def test_resize_keeps_aspect_and_a_256_px_short_side() -> None:
    out = photoset.resized(Image.new("L", (1920, 1080), 128))
    assert out.mode == "RGB" and out.size == (455, 256)
    small = photoset.resized(Image.new("RGB", (300, 200)))
    assert small.size == (300, 200)  # never enlarged


def test_check_names_what_a_built_set_lacks(tmp_path: Path) -> None:
    names = sorted(photoset.read_split())
    for name in names[1:]:
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    with pytest.raises(MemstudioError, match=names[0]):
        photoset.check(tmp_path)
    Image.new("RGB", (8, 8)).save(tmp_path / names[0])
    photoset.check(tmp_path)
