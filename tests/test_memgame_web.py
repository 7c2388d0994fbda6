"""``memstudio memgame export-web``: the static site's contents and its refusals, then the site played in a real
headless browser (Debian's chromium driven by selenium) with key presses at known trials, its downloaded CSV
scored by ``memgame score``."""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import shutil
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from test_memgame_cli import SMALL

from memstudio.cli import main
from memstudio.core.experiments.practice import PRACTICE_TRIALS
from memstudio.core.experiments.protocol import BLANK_MS, IMAGE_MS
from memstudio.core.experiments.responses import RESPONSE_COLUMNS, ResponseRow, responses_to_csv
from memstudio.core.experiments.sequence_io import read_sequence
from memstudio.core.experiments.web_export import VENDOR_DIR

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# Short enough for a quick test, long enough that a press sent at a trial's onset lands inside it on a busy CPU.
TEST_IMAGE_MS, TEST_BLANK_MS = 150, 250


def _cli(*args: object) -> int:
    return main([str(a) for a in args])


def _build_game(root: Path, participants: int = 4) -> Path:
    strip, fillers = root / "strip", root / "fillers"
    strip.mkdir(parents=True)
    fillers.mkdir()
    items = []
    for s in range(5):
        for i, a in enumerate((-0.2, -0.1, 0.0, 0.1, 0.2)):
            Image.new("RGB", (48, 48), (40 * s, 50 * i, 100)).save(strip / f"panel_{s}_{i}.png")
            items.append({"image": f"panel_{s}_{i}.png", "seed_id": f"seed{s:04d}", "alpha": a})
    (strip / "panels.json").write_text(json.dumps({"images": items}))
    for i in range(20):
        Image.new("RGB", (48, 48), (250, 10 * i, 0)).save(fillers / f"f{i:02d}.png")
    game = root / "game"
    args = [strip / "panels.json", "--fillers", fillers, "--participants", participants, "--seed", 3, *SMALL]
    assert _cli("memgame", "build", *args, "-o", game) == 0
    return game


@pytest.fixture(scope="module")
def game(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_game(tmp_path_factory.mktemp("web"))


def _game_config(site: Path) -> dict:
    text = (site / "game.js").read_text()
    return json.loads(text[text.index("=") + 1 : text.rindex(";")])


def test_site_holds_everything_it_needs_and_nothing_external(game: Path, tmp_path: Path, capsys) -> None:
    site = tmp_path / "site"
    assert _cli("memgame", "export-web", game, "-o", site) == 0
    assert "4 sequences, 36 images" in capsys.readouterr().out
    config = _game_config(site)
    # The local runner's timing and the response file's columns, from the same constants.
    assert (config["image_ms"], config["blank_ms"]) == (IMAGE_MS, BLANK_MS) == (600, 800)
    assert config["columns"] == list(RESPONSE_COLUMNS) and config["participants"] == ["P001", "P002", "P003", "P004"]
    assert len(config["practice"]) == len(PRACTICE_TRIALS) and config["completion_code"] is None
    for pid in config["participants"]:
        seq = read_sequence(game / "sequences" / f"{pid}.json")
        for t in seq.trials:  # every image of every sequence, at its design id, byte for byte
            assert (site / t.image).read_bytes() == (game / t.image).read_bytes()
        assert (site / "sequences" / f"{pid}.js").is_file()
    for p in config["practice"]:
        assert (site / p["image"]).is_file() and not (game / p["image"]).exists()
    # The vendored jsPsych files are the pinned npm ones; in the site only their source-map comments are gone.
    versions = json.loads((VENDOR_DIR / "VERSIONS.json").read_text())
    assert versions["files"]["jspsych.min.js"]["version"] == "8.3.0"
    assert versions["files"]["plugin-image-keyboard-response.min.js"]["version"] == "2.2.0"
    for name, rec in versions["files"].items():
        vendored = (VENDOR_DIR / name).read_bytes()
        assert hashlib.sha256(vendored).hexdigest() == rec["sha256"]
        shipped = (site / "jspsych" / name).read_text()
        kept = [line for line in vendored.decode().splitlines() if "sourceMappingURL=" not in line]
        assert shipped.splitlines() == kept and "sourceMappingURL" not in shipped
    assert "MIT License" in (site / "jspsych" / "LICENSE").read_text()
    page = (site / "index.html").read_text()
    assert "connect-src 'none'" in page and "script-src 'self'" in page
    # No file the page loads names an address outside the site (citation strings inside jsPsych aside).
    for src in ("index.html", "memgame.js", "memgame.css", "game.js"):
        assert "http://" not in (site / src).read_text() and "https://" not in (site / src).read_text()
    modes = {p.stat().st_mode & 0o777 for p in site.rglob("*")} | {site.stat().st_mode & 0o777}
    assert modes == {0o644, 0o755}  # readable by a web server (temporary files start private)


def test_export_refuses_bad_input_and_writes_nothing(game: Path, tmp_path: Path, capsys) -> None:
    site = tmp_path / "site"
    assert _cli("memgame", "export-web", game, "-o", site, "--post-url", "ftp://lab/x") == 2
    assert "must be a plain http(s)://host/path URL" in capsys.readouterr().err
    assert _cli("memgame", "export-web", game, "-o", site, "--image-ms", 0) == 2
    assert "image time 0 ms must be positive" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(game, broken)
    seq = read_sequence(broken / "sequences" / "P002.json")
    missing = next(t.image for t in seq.trials if t.kind == "target_first")
    (broken / missing).unlink()
    assert _cli("memgame", "export-web", broken, "-o", site) == 2
    assert f"{broken / missing}: missing (an image of the design)" in capsys.readouterr().err
    assert not site.exists()
    site.mkdir()
    (site / "keep.txt").write_text("a previous site")
    assert _cli("memgame", "export-web", game, "-o", site) == 2
    assert "already exists" in capsys.readouterr().err and (site / "keep.txt").read_text() == "a previous site"


# --- in a real browser --------------------------------------------------------------------------------------------


class _Lab(BaseHTTPRequestHandler):
    """A lab's POST endpoint: allows any origin (a file:// page sends Origin: null) and keeps what it gets."""

    received: list[dict] = []

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")

    def do_OPTIONS(self) -> None:  # noqa: N802 (http.server API)
        self.send_response(204)
        self._cors()
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self._cors()
        self.end_headers()

    def log_message(self, *args: object) -> None:  # quiet test output
        return None


@pytest.fixture(scope="module")
def lab_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Lab)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/upload", _Lab.received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs chromium and chromedriver (Debian: apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--window-size=800,600",
    ):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver, downloads
    driver.quit()


def _state(driver) -> tuple[str, str]:
    return tuple(
        driver.execute_script(
            "const d = document.documentElement.dataset; return [d.memgameState || '', d.memgameTrial || ''];"
        )
    )


def _until(driver, check, timeout: float = 30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out; the page is at {_state(driver)}: {driver.find_element('tag name', 'body').text}")


def _space(driver) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(" ").perform()


def _open(driver, url: str) -> None:
    """Load the page and get past the full-screen button to the instructions."""
    driver.get(url)
    _until(driver, lambda: driver.find_elements("id", "jspsych-fullscreen-btn"))[0].click()
    _until(driver, lambda: _state(driver)[0] == "instructions")


def _play(driver, url: str, practice_presses: set[int], game_presses: set[int]) -> None:
    """Play a whole game, pressing SPACE at the onset of the listed trials (practice and game positions)."""
    _open(driver, url)
    _space(driver)
    seen: set[tuple[str, str]] = set()
    deadline = time.monotonic() + 120
    while (state := _state(driver))[0] != "done":
        assert state[0] not in ("error", "aborted") and time.monotonic() < deadline, f"the game stopped at {state}"
        if state[0] == "instructions" and any(s == "practice" for s, _ in seen) and ("gap", "") not in seen:
            seen.add(("gap", ""))  # the screen between practice and game waits for SPACE
            _space(driver)
        elif state[0] in ("practice", "game") and state not in seen:
            seen.add(state)
            if int(state[1]) in (practice_presses if state[0] == "practice" else game_presses):
                _space(driver)
        time.sleep(0.003)


def _requests(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_browser_game_scores_exactly_as_the_keys_were_pressed(
    browser, lab_endpoint, game: Path, tmp_path: Path, capsys
) -> None:
    driver, downloads = browser
    post_url, received = lab_endpoint
    site = tmp_path / "site"
    assert _cli("memgame", "export-web", game, "-o", site, "--post-url", post_url) == 0
    seq = read_sequence(game / "sequences" / "P002.json")
    kinds = [t.kind for t in seq.trials]
    targets = [i for i, k in enumerate(kinds) if k == "target_repeat"]
    vigilance = [i for i, k in enumerate(kinds) if k == "vigilance_repeat"]
    new = [i for i, k in enumerate(kinds) if k in ("filler", "target_first")]
    # Hit every vigilance repeat (keeps the participant in), all targets but the first, and 2 false alarms.
    presses = set(vigilance) | set(targets[1:]) | {new[0], new[-1]}
    url = f"{site.as_uri()}/index.html?participant=P002&image_ms={TEST_IMAGE_MS}&blank_ms={TEST_BLANK_MS}"
    _requests(driver)  # drop earlier entries
    _play(driver, url, practice_presses={2}, game_presses=presses)
    assert driver.find_element("id", "memgame-completion-code").text
    driver.find_element("id", "memgame-download").click()
    driver.find_element("id", "memgame-download-session").click()
    csv_path, session_path = downloads / "P002.csv", downloads / "P002.session.json"
    _until(driver, lambda: csv_path.is_file() and session_path.is_file() and not glob.glob(f"{downloads}/*.crdownload"))
    _until(driver, lambda: driver.execute_script("return document.documentElement.dataset.memgamePost") == "sent")

    # Exactly the local runner's file: the CSV rebuilt by the core from the same presses is identical.
    with csv_path.open(newline="") as fh:
        web_rows = list(csv.DictReader(fh))
    assert tuple(web_rows[0]) == RESPONSE_COLUMNS and len(web_rows) == len(seq.trials)
    rebuilt = [
        ResponseRow(
            "P002",
            t.image,
            t.kind,
            r["response"] == "1",
            t.delay,
            t.position,
            float(r["rt_ms"]) if r["rt_ms"] else None,
            t.seed_id,
            t.version,
            t.alpha,
        )
        for t, r in zip(seq.trials, web_rows, strict=True)
    ]
    assert csv_path.read_text() == responses_to_csv(rebuilt)
    pressed = {i for i, r in enumerate(web_rows) if r["response"] == "1"}
    assert pressed == presses
    assert all(0 <= float(web_rows[i]["rt_ms"]) < TEST_IMAGE_MS + TEST_BLANK_MS for i in pressed)

    session = json.loads(session_path.read_text())
    assert (session["image_ms"], session["blank_ms"], session["timing_from_url"]) == (150, 250, True)
    assert session["practice"] == {"trials": 8, "hits": 1, "misses": 1, "false_alarms": 0}
    gaps = [b - a for a, b in zip(session["onsets_ms"], session["onsets_ms"][1:], strict=False)]
    assert min(gaps) >= TEST_IMAGE_MS + TEST_BLANK_MS - 2 and statistics.median(gaps) < 450
    # The lab's endpoint got the same file; nothing else was requested outside the site.
    assert [r["csv"] for r in received] == [csv_path.read_text()]
    urls = _requests(driver)
    assert f"{site.as_uri()}/jspsych/jspsych.min.js" in urls and post_url in urls
    assert [u for u in urls if not u.startswith((site.as_uri(), "blob:", "data:", post_url))] == []

    scores = tmp_path / "scores.csv"
    assert _cli("memgame", "score", csv_path, "--design", game, "-o", scores) == 0
    assert "from 1/1 participants" in capsys.readouterr().out
    (p,) = json.loads((tmp_path / "scores.summary.json").read_text())["participants"]
    assert (p["vigilance_hits"], p["vigilance_repeats"]) == (len(vigilance), len(vigilance))
    assert (p["false_alarms"], p["new_presentations"]) == (2, len(seq.trials) - len(targets) - len(vigilance))
    with scores.open() as fh:
        hit_rate = {r["image"]: float(r["hit_rate"]) for r in csv.DictReader(fh)}
    assert hit_rate == {seq.trials[i].image: float(i in presses) for i in targets}


def test_browser_assigns_sequences_from_a_shuffled_deck_and_esc_saves_nothing(
    browser, lab_endpoint, game: Path, tmp_path
) -> None:
    driver, downloads = browser
    site = tmp_path / "site"
    assert _cli("memgame", "export-web", game, "-o", site, "--no-practice", "--feedback") == 0
    drawn = []
    for _ in range(4):
        driver.get(f"{site.as_uri()}/index.html")
        _until(driver, lambda: driver.find_elements("id", "jspsych-fullscreen-btn"))
        drawn.append(driver.execute_script("return document.documentElement.dataset.memgameSequence"))
    # Four participants in one browser play the four sequences, each once, in a random order.
    assert sorted(drawn) == ["P001", "P002", "P003", "P004"]
    # Without a configured endpoint the page's policy refuses any upload, even one a script attempts.
    post_url, received = lab_endpoint
    n_received = len(received)
    outcome = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {method: 'POST', body: 'x'}).then(() => done('sent'), (e) => done('refused'));",
        post_url,
    )
    assert outcome == "refused" and len(received) == n_received
    before = set(downloads.iterdir())
    _open(driver, f"{site.as_uri()}/index.html?participant=P003&image_ms=300&blank_ms=300")
    _space(driver)
    _until(driver, lambda: _state(driver) == ("game", "2"))
    _space(driver)
    # --feedback: the runner's frame, green on a repeat and red on a new image, for 300 ms after the press.
    repeat = read_sequence(game / "sequences" / "P003.json").trials[2].is_repeat
    frame = driver.execute_script("return getComputedStyle(document.querySelector('.jspsych-content')).outlineColor")
    assert frame == ("rgb(40, 200, 60)" if repeat else "rgb(220, 40, 40)")
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    _until(driver, lambda: _state(driver)[0] == "aborted")
    assert "Nothing was saved" in driver.find_element("tag name", "body").text
    assert not driver.find_elements("id", "memgame-download") and set(downloads.iterdir()) == before
    driver.get(f"{site.as_uri()}/index.html?participant=P999")
    _until(driver, lambda: _state(driver)[0] == "error")
    assert "no sequence for participant P999" in driver.find_element("tag name", "body").text
    # An image lost from the site stops the game before its first trial, naming the file.
    lost = read_sequence(game / "sequences" / "P004.json").trials[0].image
    (site / lost).unlink()
    driver.get(f"{site.as_uri()}/index.html?participant=P004")
    _until(driver, lambda: _state(driver)[0] == "error")
    body = driver.find_element("tag name", "body").text
    assert "could not be loaded" in body and lost.rsplit("/", 1)[-1] in body
