"""The real photo set the shipped directions are trained on, built offline from packages that ship photographs.

``python -m memstudio.devtools.photoset build OUT`` installs the Debian wallpaper and GCompris data packages
(apt-get, as root), downloads the scikit-image and scikit-learn wheels (``pip download``, not installed), copies
every photograph listed in :data:`PHOTOS` (illustrations and renders are left out by hand), resizes it to a
256-px short side and writes ``OUT/manifest.csv``: file, source package, path inside it, licence, copyright.
The licence of a Debian picture is read from its package's machine-readable ``/usr/share/doc/PKG/copyright``
(the last matching ``Files:`` stanza wins, as DEP-5 says), the KDE wallpaper's ``metadata.json`` or, for
GCompris's photos (packed in Qt resource bundles), the ``README`` beside them in the bundle, which names each
photo's author, licence and Wikimedia Commons source; a photo whose licence cannot be read, or is not free
(NC / ND), is refused rather than guessed, and so is a listed photo smaller than :data:`MIN_SHORT_SIDE` or one
that looks like another in the set (the same picture on both sides of the split would flatter the evidence).

The fixed train / held-out split (by photo) lives in ``memstudio/core/directions/shipped/photoset_split.csv``; ``split``
(re)writes it from the core's :func:`~memstudio.core.directions.train.split_photos` with the shipped seed and
held-out count, and ``check`` verifies that a built set gives that very split (what the training will use).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import itertools
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from memstudio.core.atomic import write_text_atomic
from memstudio.core.errors import MemstudioError
from memstudio.devtools.qt_resources import ResourceBundle

SHORT_SIDE = 256
#: The smallest short side a listed photo may have: GCompris's 214-240 px pictures are enlarged a little by the
#: editor's 256-px crop, smaller ones (down to 119 px) would be mostly interpolation and are left out.
MIN_SHORT_SIDE = 180
#: Two photos whose 8×8 difference hashes differ in fewer bits than this are taken for the same picture: one
#: Commons photo in two GCompris activities, cropped differently, differs in 0-1 bits; the closest two distinct
#: photos of the set in 10 (two photos of one monument, 22-31).
DUPLICATE_BITS = 6
SPLIT_CSV = Path(__file__).resolve().parents[1] / "core" / "directions" / "shipped" / "photoset_split.csv"
#: The shipped split: this many photos held out, shuffled with this seed (the training seed too).
HELDOUT = 100
SEED = 0
DEBIAN_PACKAGES = (
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "palapeli-data",
    "lxqt-themes",
    "gcompris-qt-data",
)
WHEELS = ("scikit-image==0.26.0", "scikit-learn==1.9.1")


@dataclass(frozen=True)
class Photo:
    """One photograph: where it is in its package; ``licence`` given only where no copyright file says it.

    ``member`` is the photo's resource path when ``path`` is a Qt resource bundle (GCompris) rather than the photo.
    """

    package: str
    path: str
    licence: str = ""
    copyright: str = ""
    member: str = ""

    @property
    def source(self) -> str:
        """Where the photo is, as the manifest records it (a bundle's member in Qt's ``:/`` notation)."""
        return f"{self.path}:{self.member}" if self.member else self.path


_LOMIRI = "lomiri-wallpapers-16.04"
_MATE = "/usr/share/backgrounds/mate/nature/"
_KDE = "/usr/share/wallpapers/{}/contents/images/1920x1080.jpg"
_SKIMAGE = "scikit-image==0.26.0"
_SKLEARN = "scikit-learn==1.9.1"
_GCOMPRIS = "gcompris-qt-data"
_LXQT = "lxqt-themes"

#: GCompris's photos (Wikimedia Commons pictures its activities show): activity → folder in the activity's
#: ``resource/`` → picture names (``.webp``). Left out: the two block renders (alphabets, numbers), pictures under
#: MIN_SHORT_SIDE, the lower-resolution copy of a photo two activities share (same Commons source), and the two
#: whose README misspells their names (aulaPalatina, screwDriver), so their licence cannot be matched.
_GCOMPRIS_PHOTOS: dict[str, dict[str, str]] = {
    "categorization": {
        "images/fishes": (
            "fish1 fish10 fish11 fish12 fish13 fish14 fish15 fish16 fish18 fish19 fish2 fish20 fish21 "
            "fish22 fish23 fish24 fish25 fish26 fish27 fish28 fish3 fish4 fish5 fish6 fish7 fish9"
        ),
        "images/monuments": (
            "IndiaGate arcDeTriomphe bayterek burj cathedral christTheRedeemer eiffelTower "
            "empireState greatWall jucheTower kutubMinar leMusee leaningTowerOfPisa monument1 "
            "monument2 monument3 mountRushmore operaHouse parthenon statueOfLiberty tajMahal "
            "usCapitol victoriaMemorial zimniPalace"
        ),
        "images/others": (
            "baseball blackslate bucket buffetset bulb chair cup erasers igloo knife pan pillow plate "
            "spoons volleyball weighingMachine"
        ),
        "images/renewable": (
            "dam1 dam2 dam3 dam4 dam5 geothermal solar1 solar2 solar3 solar4 solar5 solar7 solar8 "
            "windmill windmill1 windmill11 windmill12 windmill13 windmill14 windmill15 windmill2 "
            "windmill3 windmill4 windmill5 windmill6 windmill7 windmill8 windmill9"
        ),
        "images/tools": (
            "cuttingTool hammer1 hammer2 hammer3 hammer4 hammer5 hammer6 hammer7 hammer8 hammer9 "
            "measuringTape1 measuringTape2 measuringTape3 measuringTape4 measuringTape5 "
            "measuringTape6 multimeter1 multimeter2 nailCutter plier4 scissors1 scissors2 scissors3 "
            "screwDriver1 screwDriver2 screwDriver3 sickle sideCutter1 spray tweezer wrench"
        ),
    },
    "erase": {
        "": (
            "alpaca bee butterfly calf camels caterpillar chamaeleon cheetah crab dolphin flying_fox "
            "gibbon giraffe goat gorilla gosling heron horse kingfisher kitten long_nosed_monkey "
            "macaque meerkats northern_harrier nubian_ibex penguin pika red_panda rhinoceros "
            "spoonbills squirrel swans toucan"
        ),
    },
    "explore_farm_animals": {
        "animals": "cat chicken cow dog duck horse owl pig sheep",
    },
    "explore_monuments": {
        "egypt": "bentPyramid greatPyramidOfGiza meidumPyramid redPyramid",
        "france": (
            "arlesAmphitheater chateaudeChambord chateaudeChenonceau citedeCarcassonne eiffelTower "
            "montStMichel palaisdesPapes pontduGard reimsCathedral rocamadour"
        ),
        "germany": (
            "berlinCathedral brandenburgGate neuschwansteinCastle schwerinPalace trierImperialBaths "
            "wormsCathedral"
        ),
        "india": (
            "ajantaCave charminar gatewayofIndia goldenTemple greatStupa hawaMahal konarkSunTemple "
            "mysorePalace qutubMinar rangGhar victoriaMemorial"
        ),
        "usa": (
            "cabrillo canyondeChelly castillodeSanMarcos castleClinton fortSumter "
            "georgeWashingtonBirthplace lincolnMemorial mountRushmore navajo statueofLiberty"
        ),
        "wonders": "chichenItza christTheRedeemer colosseum greatWallofChina machuPicchu petra tajMahal",
    },
    "explore_world_animals": {
        "animals": (
            "bison chameleon crocodile dragon giraffe hedgehog jaguar kangaroo koala lemur moose "
            "narwhal panda polar_bear scarlet_macaw"
        ),
    },
}

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
    # scikit-image's data module: licences as its data docstrings state them (text.png, 172 px high, is under
    # MIN_SHORT_SIDE; moon.png and the Middlebury motorcycle pair state no licence).
    Photo(_SKIMAGE, "skimage/data/astronaut.png", "public-domain", "NASA"),
    Photo(_SKIMAGE, "skimage/data/camera.png", "CC0-1.0", "Lav Varshney"),
    Photo(_SKIMAGE, "skimage/data/brick.png", "CC0-1.0", "CC0Textures"),
    Photo(_SKIMAGE, "skimage/data/grass.png", "CC0-1.0", "linolafett"),
    Photo(_SKIMAGE, "skimage/data/gravel.png", "CC0-1.0", "CC0Textures"),
    Photo(_SKIMAGE, "skimage/data/coins.png", "no known copyright restrictions", "Brooklyn Museum"),
    Photo(_SKIMAGE, "skimage/data/chelsea.png", "CC0-1.0", "Stefan van der Walt"),
    Photo(_SKIMAGE, "skimage/data/coffee.png", "CC0-1.0", "Rachel Michetti"),
    Photo(_SKIMAGE, "skimage/data/hubble_deep_field.jpg", "public-domain", "NASA"),
    Photo(_SKIMAGE, "skimage/data/retina.jpg", "CC0-1.0", "Mikael Häggström"),
    Photo(_SKIMAGE, "skimage/data/rocket.jpg", "public-domain", "SpaceX"),
    Photo(_SKIMAGE, "skimage/data/clock_motion.png", "public-domain", "Stefan van der Walt"),
    # scikit-learn's sample images: datasets/images/README.txt.
    Photo(_SKLEARN, "sklearn/datasets/images/china.jpg", "CC-BY-2.0", "danielbuechele"),
    Photo(_SKLEARN, "sklearn/datasets/images/flower.jpg", "CC-BY-2.0", "vultilion"),
    # LXQt's photographic wallpapers: its wallpapers/License file covers them (the Debian copyright file's
    # catch-all "Files: *" stanza is the code's LGPL-2.1+, not the pictures').
    *(
        Photo(_LXQT, f"/usr/share/lxqt/wallpapers/{name}", "CC-BY-SA-3.0", "2022 LXQt Project Team")
        for name in (
            "Butterfly-Kenneth-Wimer.jpg", "Valendas.png", "after-the-rain.jpg", "appleflower.png", "beam.png",
            "butterfly.png", "cloud.png", "drop.png", "flowers.png", "fog.jpg", "this-is-not-windows.jpg",
        )
    ),
    *(
        Photo(
            _GCOMPRIS,
            f"/usr/share/gcompris-qt/rcc/{activity}.rcc",
            member=f"/gcompris/src/activities/{activity}/resource/{folder + '/' if folder else ''}{name}.webp",
        )
        for activity, folders in _GCOMPRIS_PHOTOS.items()
        for folder, names in folders.items()
        for name in names.split()
    ),
)


def file_name(photo: Photo) -> str:
    """A unique, stable name in the set: package plus the picture's own name (KDE: the wallpaper's; GCompris:
    activity and picture, as two activities may name different photos alike)."""
    path = Path(photo.path)
    if photo.member:
        stem = f"{path.stem}-{Path(photo.member).stem}"
    elif "/usr/share/wallpapers/" in photo.path:
        stem = path.parts[-4]
    else:
        stem = path.stem
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


def readme_licence(readme: str, name: str) -> tuple[str, str]:
    """(licence, copyright) of ``name`` (relative to the README's folder) from a GCompris README, ("", "") when no
    stanza names it. Stanzas hold ``Copyright:``, ``Source:``, ``License:`` and ``Files:`` (on the line or one
    name a line below); the copyright keeps the photo's source, which CC-BY attribution needs."""
    for stanza in re.split(r"\n\s*\n", readme):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            match = re.match(r"([A-Z][A-Za-z-]*):\s*(.*)$", line)
            if match:
                key = match.group(1)
                fields[key] = match.group(2).strip()
            elif key and line.strip():
                fields[key] += " " + line.strip()
        if name in fields.get("Files", "").split():
            holder = fields.get("Copyright", "")
            if fields.get("Source"):
                holder = f"{holder} ({fields['Source']})"
            return short_licence(fields.get("License", "")), holder
    return "", ""


def short_licence(text: str) -> str:
    """A licence as Debian's short names spell it: "Public Domain" → public-domain, "CC-BY-SA 4.0" →
    CC-BY-SA-4.0, "GPLv2+" → GPL-2+ (GCompris's READMEs spell them several ways)."""
    text = text.strip()
    if text.lower() == "public domain":
        return "public-domain"
    return re.sub(r"^GPLv(\d)", r"GPL-\1", text).replace(" ", "-")


def bundle_licence(bundle: ResourceBundle, member: str) -> tuple[str, str]:
    """A bundled photo's (licence, copyright) from the nearest README above it in the bundle that names it."""
    names = set(bundle.names())
    folder = member.rpartition("/")[0]
    while folder:
        readme = f"{folder}/README"
        if readme in names:
            found = readme_licence(bundle.read(readme).decode("utf-8"), member[len(folder) + 1 :])
            if found[0]:
                return found
        folder = folder.rpartition("/")[0]
    return "", ""


_NOT_FREE = re.compile(r"\b(NC|ND)\b|non-?commercial|no-?deriv", re.IGNORECASE)


def licence_of(photo: Photo, bundle: ResourceBundle | None = None) -> tuple[str, str]:
    """The photo's (licence, copyright), from its package's own files; none found or not free is an error."""
    if photo.licence:
        licence, holder = photo.licence, photo.copyright
    elif photo.member:
        licence, holder = bundle_licence(bundle or ResourceBundle(Path(photo.path)), photo.member)
        if not licence:
            raise MemstudioError(f"{photo.source}: no README in the bundle names this photo's licence")
    elif "/usr/share/wallpapers/" in photo.path:
        meta = Path(photo.path).parents[2] / "metadata.json"
        plugin = json.loads(meta.read_text(encoding="utf-8"))["KPlugin"]
        licence = plugin["License"]
        holder = ", ".join(a.get("Name", "") for a in plugin.get("Authors", []))
    else:
        text = Path(f"/usr/share/doc/{photo.package}/copyright").read_text(encoding="utf-8")
        relative = photo.path.removeprefix("/usr/share/backgrounds/").removeprefix("/usr/share/")
        licence, holder = dep5_licence(text, relative)
        if not licence:
            raise MemstudioError(f"{photo.path}: no licence found in {photo.package}'s copyright file")
    if _NOT_FREE.search(licence):
        raise MemstudioError(f"{photo.source}: licence {licence} forbids commercial use or changes")
    return licence, holder


def resized(image: Image.Image) -> Image.Image:
    """RGB with a ``SHORT_SIDE``-px short side (the editor crops the centre square itself)."""
    image = image.convert("RGB")
    scale = SHORT_SIDE / min(image.size)
    if scale < 1:
        size = (max(SHORT_SIDE, round(image.width * scale)), max(SHORT_SIDE, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def check_size(photo: Photo, image: Image.Image) -> None:
    """A listed photo must not need enlarging much to fill the editor's 256-px crop."""
    if min(image.size) < MIN_SHORT_SIDE:
        raise MemstudioError(
            f"{photo.source}: {image.width}×{image.height} px, under the {MIN_SHORT_SIDE}-px short side a "
            "photo of the set needs"
        )


def difference_hash(image: Image.Image) -> int:
    """A 64-bit difference hash (is each pixel of a 9×8 grey thumbnail darker than its right neighbour?):
    the same picture resized, recompressed or slightly recoloured keeps nearly all its bits."""
    pixels = image.convert("L").resize((9, 8), Image.Resampling.LANCZOS).tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (pixels[row * 9 + col] < pixels[row * 9 + col + 1])
    return bits


def near_duplicates(hashes: dict[str, int], max_bits: int = DUPLICATE_BITS) -> list[tuple[str, str, int]]:
    """Pairs of names whose hashes differ in fewer than ``max_bits`` bits, with the count: one picture twice."""
    return [
        (a, b, (hashes[a] ^ hashes[b]).bit_count())
        for a, b in itertools.combinations(sorted(hashes), 2)
        if (hashes[a] ^ hashes[b]).bit_count() < max_bits
    ]


def open_photo(photo: Photo, wheels: dict[str, zipfile.ZipFile], bundles: dict[str, ResourceBundle]) -> Image.Image:
    """The photo as its package holds it: in a wheel, in a Qt resource bundle or as an installed file."""
    if photo.package in wheels:
        return Image.open(io.BytesIO(wheels[photo.package].read(photo.path)))
    if photo.member:
        if photo.path not in bundles:
            bundles[photo.path] = ResourceBundle(Path(photo.path))
        return Image.open(io.BytesIO(bundles[photo.path].read(photo.member)))
    return Image.open(photo.path)


def build(out: Path, install: bool = True) -> Path:
    """Install the sources, copy and resize every photo into ``out``, write ``out/manifest.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    if install:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES], check=True)
    wheels: dict[str, zipfile.ZipFile] = {}
    bundles: dict[str, ResourceBundle] = {}
    hashes: dict[str, int] = {}
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
            image = open_photo(photo, wheels, bundles)
            check_size(photo, image)
            licence, holder = licence_of(photo, bundles.get(photo.path))
            name = file_name(photo)
            photo_image = resized(image)
            photo_image.save(out / name)
            hashes[name] = difference_hash(photo_image)
            rows.append({"file": name, "package": photo.package, "source": photo.source,
                         "licence": licence, "copyright": holder})
    same = near_duplicates(hashes)
    if same:
        pairs = ", ".join(f"{a} ~ {b} ({bits} bits apart)" for a, b, bits in same)
        raise MemstudioError(f"{out}: the set holds the same picture twice: {pairs}")
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
        raise MemstudioError(
            f"{folder}: photo set differs from the split list ({len(missing)} missing: {_some(missing)}; "
            f"{len(extra)} extra: {_some(extra)})"
        )
    train, heldout = shipped_split([str(folder / n) for n in present])
    got = {Path(n).name: "train" for n in train} | {Path(n).name: "heldout" for n in heldout}
    if got != expected:
        raise MemstudioError(f"{folder}: the core's split differs from {SPLIT_CSV.name}")


def _some(names: list[str], shown: int = 5) -> str:
    """The first few names, and how many more (a stale folder can differ by hundreds)."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more if names else "none"


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
