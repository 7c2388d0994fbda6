"""The shipped photo set: its list, its licences' parsing and the fixed train / held-out split by photo."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance
from rcc_bundles import write_bundle

from memstudio.core.errors import MemstudioError
from memstudio.devtools import photoset
from memstudio.devtools.qt_resources import ResourceBundle

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
    assert len(names) >= 150 and len(heldout) == photoset.HELDOUT >= 50
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


# A GCompris README as its activities ship them: inline and listed names, the licences spelt several ways.
README = """Copyright: Timothée Giet, 2018
License: CC-BY-SA 4.0
Files:
key.svg

Copyright: Daniel Schwen
License: CC-BY-SA 4.0
Source: https://commons.wikimedia.org/wiki/File:Chichen_Itza_3.jpg
Files:
wonders/chichenItza.webp
wonders/petra.webp

Copyright: Urse Ovidiu
Source: https://commons.wikimedia.org/wiki/File:Colosseum_Roma_2009.jpg
License: Public Domain
Comments: cropping, sharpening
Files: wonders/colosseum.webp

Copyright: Xavi Gaya
License: GPLv2+
Files: windmill6.webp
"""


def test_readme_licence_reads_gcomprises_stanzas_and_keeps_the_source() -> None:
    commons = "https://commons.wikimedia.org/wiki/File:"
    assert photoset.readme_licence(README, "wonders/petra.webp") == (
        "CC-BY-SA-4.0", f"Daniel Schwen ({commons}Chichen_Itza_3.jpg)"
    )
    assert photoset.readme_licence(README, "wonders/colosseum.webp") == (
        "public-domain", f"Urse Ovidiu ({commons}Colosseum_Roma_2009.jpg)"
    )
    assert photoset.readme_licence(README, "windmill6.webp") == ("GPL-2+", "Xavi Gaya")
    # Exact names only: a misspelt or unlisted photo has no licence (and is then refused).
    assert photoset.readme_licence(README, "wonders/audaPalatina.webp") == ("", "")
    assert photoset.readme_licence(README, "petra.webp") == ("", "")


def gcompris_bundle(tmp_path: Path, readme: str = README) -> Path:
    """An activity bundle: the README in resource/, a nearer README that does not name the photo, the photo."""
    photo = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 120, 200)).save(photo, "WEBP")
    return write_bundle(
        tmp_path,
        {
            "activities/explore_monuments/resource/README": readme.encode(),
            "activities/explore_monuments/resource/wonders/README": b"License: CC0-1.0\nFiles: key.svg\n",
            "activities/explore_monuments/resource/wonders/petra.webp": photo.getvalue(),
        },
        "--compress-algo", "zlib",
    )


def test_a_bundled_photos_licence_comes_from_the_nearest_readme_naming_it(tmp_path: Path) -> None:
    bundle_path = gcompris_bundle(tmp_path)
    member = "/gcompris/src/activities/explore_monuments/resource/wonders/petra.webp"
    photo = photoset.Photo("gcompris-qt-data", str(bundle_path), member=member)
    assert photo.source == f"{bundle_path}:{member}"
    assert photoset.licence_of(photo)[0] == "CC-BY-SA-4.0"  # wonders/README does not name it; resource/ does
    bundles: dict[str, ResourceBundle] = {}
    image = photoset.open_photo(photo, {}, bundles)
    assert image.size == (320, 240) and str(bundle_path) in bundles
    photoset.check_size(photo, image)

    unnamed = photoset.Photo("gcompris-qt-data", str(bundle_path), member=member.replace("petra", "machuPicchu"))
    with pytest.raises(MemstudioError, match="machuPicchu.webp: no README in the bundle names"):
        photoset.licence_of(unnamed, bundles[str(bundle_path)])


def test_a_licence_that_is_not_free_is_refused(tmp_path: Path) -> None:
    for licence in ("CC-BY-NC-SA-4.0", "CC-BY-ND-2.0", "non-commercial use only"):
        with pytest.raises(MemstudioError, match="forbids commercial use or changes"):
            photoset.licence_of(photoset.Photo("pkg", "a.jpg", licence, "Someone"))
    assert photoset.licence_of(photoset.Photo("pkg", "a.jpg", "CC-BY-SA-4.0", "Someone")) == (
        "CC-BY-SA-4.0", "Someone"
    )
    bundle_path = gcompris_bundle(tmp_path, README.replace("License: CC-BY-SA 4.0", "License: CC-BY-NC 4.0"))
    member = "/gcompris/src/activities/explore_monuments/resource/wonders/petra.webp"
    with pytest.raises(MemstudioError, match="petra.webp: licence CC-BY-NC-4.0 forbids"):
        photoset.licence_of(photoset.Photo("gcompris-qt-data", str(bundle_path), member=member))


def test_a_photo_under_the_minimum_short_side_is_refused() -> None:
    photo = photoset.Photo("pkg", "/usr/share/x/tiny.jpg")
    photoset.check_size(photo, Image.new("RGB", (400, photoset.MIN_SHORT_SIDE)))
    with pytest.raises(MemstudioError, match=r"tiny\.jpg: 400×172 px, under the 180-px short side"):
        photoset.check_size(photo, Image.new("RGB", (400, 172)))


def test_the_same_picture_twice_is_found_and_distinct_photos_are_not(photos_dir: Path) -> None:
    astronaut = photoset.resized(Image.open(photos_dir / "astronaut.png"))
    # One photo as a second package might ship it: a 1 % border cropped, smaller, brighter, JPEG-recompressed.
    w, h = astronaut.size
    copy = ImageEnhance.Brightness(astronaut.crop((2, 2, w - 2, h - 2))).enhance(1.1).resize((200, 200))
    jpeg = io.BytesIO()
    copy.save(jpeg, "JPEG", quality=70)
    hashes = {
        name: photoset.difference_hash(photoset.resized(Image.open(path)))
        for name, path in (
            ("astronaut.png", photos_dir / "astronaut.png"),
            ("copy.jpg", jpeg),
            *((p.name, p) for p in sorted(photos_dir.glob("*.png")) if p.name != "astronaut.png"),
        )
    }
    assert len(hashes) >= 4
    found = photoset.near_duplicates(hashes)
    assert [(a, b) for a, b, _ in found] == [("astronaut.png", "copy.jpg")]
    assert found[0][2] < photoset.DUPLICATE_BITS


def test_gcompris_names_keep_the_activity_so_two_horses_do_not_collide() -> None:
    names = {photoset.file_name(p) for p in photoset.PHOTOS if p.package == "gcompris-qt-data"}
    assert {"gcompris-qt-data--erase-horse.png", "gcompris-qt-data--explore_farm_animals-horse.png"} <= names
    assert all(p.member.endswith(".webp") and p.path.endswith(".rcc") for p in photoset.PHOTOS if p.member)
