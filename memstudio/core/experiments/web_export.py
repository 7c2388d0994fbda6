"""A built memory-game design as a static web experiment: HTML, JavaScript and the images, no server code.

The site (``SITE/index.html``) opens from disk (``file://``) and from any static host. It plays one sequence
per participant — ``?participant=P001`` picks it, without one a sequence is drawn at random from a per-browser
shuffled deck — with the local runner's timing and keys (``protocol.py``), a practice block of abstract images
first, and writes the local runner's response CSV, which the participant downloads at the end (or which is
POSTed to the lab's own endpoint when one is configured), so ``memgame score`` reads web and local data alike.

jsPsych 8.3.0 (the field's standard experiment library, MIT) runs the timeline. Its exact npm dist files are
vendored in ``web/vendor/jspsych`` (``VERSIONS.json`` lists package, version and sha256), so a site is built
offline from a fresh clone without npm; their ``sourceMappingURL`` comments, the only external address they
would ever load (in developer tools), are dropped when copied into a site. A Content-Security-Policy in
``index.html`` lets the page load its own files only and send data nowhere but the configured endpoint.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from PIL import Image

import memstudio
from memstudio.core.atomic import atomic_directory, write_text_atomic
from memstudio.core.experiments.errors import DesignError, format_problems
from memstudio.core.experiments.practice import PRACTICE_TRIALS, practice_images
from memstudio.core.experiments.protocol import (
    BLANK_MS,
    FEEDBACK_MS,
    IMAGE_MS,
    INSTRUCTIONS,
    PRACTICE_NOTE,
    check_timing,
    practice_done_text,
)
from memstudio.core.experiments.responses import RESPONSE_COLUMNS
from memstudio.core.experiments.sequence_io import DESIGN_FILE, load_design
from memstudio.core.experiments.stimuli import REPEAT_KINDS, GameSequence, Trial

WEB_DIR = Path(__file__).with_name("web")
VENDOR_DIR = WEB_DIR / "vendor" / "jspsych"
_SOURCE_MAP = re.compile(r"\n?/[/*]# sourceMappingURL=[^\n]*")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

TEXT = {
    "loading": "Loading the images…",
    "fullscreen": "The game runs in full screen.",
    "fullscreen_button": "Continue",
    "thanks": "Thank you! The game is over.",
    "completion_code": "Your completion code:",
    "download": "Download my responses",
    "download_session": "Download session details",
    "sending": "Sending your responses to the lab…",
    "sent": "Your responses were sent to the lab.",
    "send_failed": "Your responses could not be sent; please download them and send the file to the lab",
    "aborted": "The game was stopped. Nothing was saved.",
    "unknown_participant": "There is no sequence for participant {id} in this game; check the link.",
    "bad_timing": "The link sets {name} to {value}, which is not a usable number of milliseconds.",
    "images_failed": "Some images could not be loaded; please tell the lab. Nothing was saved.",
}


@dataclass(frozen=True)
class WebOptions:
    """How the web game plays; the defaults are the local runner's (``memgame play``)."""

    image_ms: int = IMAGE_MS
    blank_ms: int = BLANK_MS
    feedback: bool = False
    feedback_ms: int = FEEDBACK_MS
    practice: bool = True
    fullscreen: bool = True
    #: A fixed code shown to everyone (e.g. a recruitment platform's); default a random code per session.
    completion_code: str | None = None
    #: The lab's own endpoint that receives each session as JSON; default none (download only).
    post_url: str | None = None
    title: str = "Memory game"


@dataclass(frozen=True)
class WebExport:
    site: Path
    sequences: int
    images: int
    bytes: int
    #: The first participant id, for the example link.
    first: str


def _check_options(options: WebOptions) -> list[str]:
    problems = []
    timing = check_timing(options.image_ms, options.blank_ms)
    if timing:
        problems.append(timing)
    if options.feedback_ms <= 0:
        problems.append(f"feedback time {options.feedback_ms} ms must be positive")
    if options.completion_code is not None and not _CODE.match(options.completion_code):
        problems.append(
            f"completion code {options.completion_code!r} must be 1–64 letters, digits, '-' or '_'"
        )
    if options.post_url is not None:
        parts = urlsplit(options.post_url)
        if parts.scheme not in ("https", "http") or not parts.netloc or re.search(r"[\s\"';]", options.post_url):
            problems.append(f"POST endpoint {options.post_url!r} must be a plain http(s)://host/path URL")
    return problems


def _connect_src(post_url: str | None) -> str:
    if not post_url:
        return "'none'"
    parts = urlsplit(post_url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(post_url: str | None) -> str:
    """Only the site's own files load; data may go to the configured endpoint and nowhere else."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; "
        f"font-src 'self' data:; connect-src {_connect_src(post_url)}; base-uri 'none'; form-action 'none'"
    )


def _trial_record(t: Trial) -> dict[str, str]:
    """A trial's fixed response-CSV fields, formatted here exactly as ``responses_to_csv`` formats them."""
    return {
        "position": str(t.position),
        "image": t.image,
        "kind": t.kind,
        "seed_id": t.seed_id,
        "version": t.version,
        "alpha": "" if t.alpha is None else repr(t.alpha),
        "delay": "" if t.delay is None else str(t.delay),
    }


def _sequence_script(seq: GameSequence) -> str:
    data = {"participant": seq.participant, "trials": [_trial_record(t) for t in seq.trials]}
    key = json.dumps(seq.participant)
    return (
        f"(window.MEMGAME_SEQUENCES = window.MEMGAME_SEQUENCES || {{}})[{key}] = "
        f"{json.dumps(data, ensure_ascii=True, separators=(',', ':'))};\n"
    )


def _html_text(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def _texts(options: WebOptions) -> dict[str, str]:
    t = dict(TEXT)
    instructions = _html_text(INSTRUCTIONS)
    if options.practice:
        instructions += "<br><br>" + _html_text(PRACTICE_NOTE.format(n=len(PRACTICE_TRIALS)))
    t["instructions_html"] = instructions
    t["practice_done_html"] = _html_text(practice_done_text(options.feedback))
    # Keys ending in _html are inserted as HTML (escaped here); the others only ever as plain text.
    for key in ("fullscreen", "loading", "images_failed"):
        t[f"{key}_html"] = _html_text(t.pop(key))
    return t


def _image_problems(root: Path, sequences: list[GameSequence]) -> tuple[list[str], list[str]]:
    ids, problems = [], []
    for image in dict.fromkeys(t.image for s in sequences for t in s.trials):
        rel = PurePosixPath(image)
        if rel.is_absolute() or ".." in rel.parts:
            problems.append(f"{root / DESIGN_FILE}: image id {image!r} points outside the design")
        elif not (root / rel).is_file():
            problems.append(f"{root / rel}: missing (an image of the design); rebuild or restore it")
        else:
            ids.append(image)
    return ids, problems


def _vendor_text(path: Path) -> str:
    return _SOURCE_MAP.sub("", path.read_text(encoding="utf-8"))


def _readme(options: WebOptions, n_sequences: int) -> str:
    post = f"each session is also POSTed as JSON to {options.post_url}" if options.post_url else "no upload"
    return f"""Memory game built by memstudio {memstudio.__version__} ({n_sequences} sequences).

Open index.html in a browser (from disk) or put this folder on any static web host.
  index.html?participant=P001   plays sequence P001 (the participant column of the responses is P001)
  index.html                    draws a sequence at random; each browser goes through all sequences
                                before any repeats; the participant column is SEQUENCE-TOKEN
  &image_ms=600&blank_ms=800    pilot/test timing; recorded in the session file (defaults as memgame play)

At the end the participant sees a completion code and downloads PARTICIPANT.csv (the responses, the same
columns as memgame play) and PARTICIPANT.session.json (timing, browser, practice). Data: {post}.
Nothing else leaves the browser; no third-party files are loaded (see the Content-Security-Policy in
index.html). Score the CSVs with: memstudio memgame score *.csv --design GAME_DIR -o scores.csv

jsPsych (MIT, jspsych/LICENSE) runs the experiment; jspsych/VERSIONS.json lists the exact files.
"""


def _web_permissions(folder: Path) -> None:
    """Temporary files and folders are private (0600/0700); a site must be readable by a web server, so
    its files become 0644 and its folders 0755 (fixed modes: reading the umask would change it for every
    thread of the studio for a moment)."""
    for dirpath, _dirs, files in os.walk(folder):
        os.chmod(dirpath, 0o755)
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o644)


def export_web(design_root: str | Path, site_dir: str | Path, options: WebOptions | None = None) -> WebExport:
    """Write the static site for the design at ``design_root`` into the new folder ``site_dir``.

    Everything is checked before anything is written (a readable, valid design whose images all exist;
    usable options), and the site appears whole or not at all.
    """
    options = options or WebOptions()
    root = Path(design_root)
    meta, sequences, violations = load_design(root)
    problems = _check_options(options)
    if violations:
        problems += [f"{root}: {v}" for v in violations]
    if not sequences:
        problems.append(f"{root / DESIGN_FILE}: the design has no participants")
    problems += [
        f"{root / DESIGN_FILE}: participant id {s.participant!r} must be 1–64 letters, digits, '.', '-' or '_'"
        for s in sequences
        if not _SAFE_ID.match(s.participant)
    ]
    images, image_problems = _image_problems(root, sequences)
    problems += image_problems
    if problems:
        raise DesignError(format_problems(f"cannot export {root} for the web:", problems))
    try:
        with Image.open(root / images[0]) as im:
            practice_size = im.size
    except OSError as exc:
        raise DesignError(f"{root / images[0]}: cannot read the image: {exc}") from exc
    design_text = (root / DESIGN_FILE).read_bytes()
    vendor = json.loads((VENDOR_DIR / "VERSIONS.json").read_text(encoding="utf-8"))
    practice = []
    site = Path(site_dir)
    with atomic_directory(site) as tmp:
        for name in vendor["files"]:
            write_text_atomic(tmp / "jspsych" / name, _vendor_text(VENDOR_DIR / name))
        for name in ("LICENSE", "VERSIONS.json"):
            shutil.copyfile(VENDOR_DIR / name, tmp / "jspsych" / name)
        for name in ("memgame.js", "memgame.css"):
            shutil.copyfile(WEB_DIR / name, tmp / name)
        page = (WEB_DIR / "index.html").read_text(encoding="utf-8")
        page = page.replace("{csp}", content_security_policy(options.post_url))
        write_text_atomic(tmp / "index.html", page.replace("{title}", html.escape(options.title)))
        for image in images:
            (tmp / image).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / image, tmp / image)
        if options.practice:
            (tmp / "practice").mkdir()
            for i, im in enumerate(practice_images(practice_size)):
                im.save(tmp / "practice" / f"practice{i}.png")
            practice = [
                {"image": f"practice/practice{t.image}.png", "kind": t.kind, "delay": t.delay}
                for t in PRACTICE_TRIALS
            ]
        for seq in sequences:
            write_text_atomic(tmp / "sequences" / f"{seq.participant}.js", _sequence_script(seq))
        config = {
            "site_id": hashlib.sha256(design_text).hexdigest()[:12],
            "participants": [s.participant for s in sequences],
            "columns": list(RESPONSE_COLUMNS),
            "repeat_kinds": list(REPEAT_KINDS),
            "image_ms": options.image_ms,
            "blank_ms": options.blank_ms,
            "feedback": options.feedback,
            "feedback_ms": options.feedback_ms,
            "fullscreen": options.fullscreen,
            "completion_code": options.completion_code,
            "post_url": options.post_url,
            "practice": practice,
            "text": _texts(options),
            "site": {
                "memstudio": memstudio.__version__,
                "design_seed": meta.get("seed"),
                "design_sha256": hashlib.sha256(design_text).hexdigest(),
                "jspsych": vendor["files"]["jspsych.min.js"]["version"],
            },
        }
        write_text_atomic(tmp / "game.js", f"window.MEMGAME = {json.dumps(config, indent=1, ensure_ascii=True)};\n")
        write_text_atomic(tmp / "README.txt", _readme(options, len(sequences)))
        _web_permissions(tmp)
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    return WebExport(site, len(sequences), len(images), total, sequences[0].participant)
