"""Detection pages: self-contained, faithful to the data they were made from, light for long recordings."""

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from mtsed.evaluation import pages
from mtsed.io.events import Event
from tests.conftest import write_tone

LABELS = ("dog", "door", "steps")
FRAME = 0.02


def _view(tmp_path: Path, seconds: float = 20.0, reference: bool = True, seed: int = 0) -> pages.RecordingView:
    rng = np.random.default_rng(seed)
    frames = int(seconds / FRAME) + 1
    audio = tmp_path / "audio" / "rec 1.wav"
    if seconds <= 60:
        write_tone(audio, seconds, 440.0)
    truth = [Event(1.0, 2.0, "dog"), Event(5.0, 5.3, "door"), Event(8.0, 12.0, "steps")]
    found = {"proposed": [Event(1.05, 2.1, "dog"), Event(14.0, 15.0, "door")], "baseline": [Event(8.5, 12.0, "steps")]}
    systems = [
        pages.SystemView(name, events, rng.random((frames, len(LABELS))), (0.5, 0.4, 0.3), 0.5, 0.8)
        for name, events in found.items()
    ]
    pages_dir = tmp_path / "pages"
    return pages.RecordingView(
        "rec 1",
        pages.relative_link(audio, pages_dir),
        seconds,
        FRAME,
        LABELS,
        rng.normal(size=(frames, 40)).astype(np.float32),
        systems,
        truth if reference else None,
        {"proposed events": "../estimated/proposed/rec 1.tsv"},
    )


def _data(page: Path) -> dict:
    block = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page.read_text(), re.S).group(1)
    assert not re.search(r"[<>&']", block)  # nothing in the block that HTML could read as markup
    return json.loads(block)


def test_a_page_holds_its_data_and_needs_nothing_from_the_network(tmp_path: Path):
    view = _view(tmp_path)
    page = pages.write_recording_page(view, tmp_path / "pages")
    html = page.read_text()
    assert page.name == "rec_1.html" and not re.search(r"https?://", html.replace("http://www.w3.org/2000/svg", ""))
    assert 'src="../audio/rec 1.wav"' in html and "fetch(" not in html and "base64" not in html
    data = _data(page)
    assert data["labels"] == list(LABELS)
    assert data["reference"]["events"] == [[1.0, 2.0, 0], [5.0, 5.3, 1], [8.0, 12.0, 2]]
    # every estimate told apart: the dog hits, the door is a false alarm; the steps' late onset misses
    assert data["systems"][0]["events"] == [[1.05, 2.1, 0, "hit"], [14.0, 15.0, 1, "false alarm"]]
    assert data["reference"]["by_system"] == {
        "proposed": ["hit", "not found", "not found"],
        "baseline": ["not found", "not found", "onset"],
    }
    for system, shown in zip(view.systems, data["systems"]):  # scores in thousandths, every frame of a short recording
        assert shown["score_step"] == pytest.approx(FRAME)
        np.testing.assert_array_equal(np.asarray(shown["scores"]).T, np.rint(system.scores * 1000))
        assert shown["thresholds"] == [0.5, 0.4, 0.3]
    assert data["tiles"] == ["rec_1/tile-0000.jpg"] and (tmp_path / "pages" / "rec_1" / "tile-0000.jpg").is_file()


def test_scores_of_a_long_recording_are_max_pooled_so_peaks_stay(tmp_path: Path):
    scores = np.zeros((10_001, 2))
    scores[7_777, 1] = 0.9
    step, pooled = pages.pooled_scores(scores, max_points=1000)
    assert step == 11 and pooled.shape == (910, 2)
    assert pooled[7_777 // 11, 1] == 900 and pooled.sum() == 900


def test_a_twenty_minute_page_stays_under_its_size_budget(tmp_path: Path):
    """Budget: the HTML under 1.5 MB and its spectrogram tiles under 4 MB (noise, the worst case
    for JPEG; a real recording's tiles are a third of that), 20 tiles of one minute."""
    view = _view(tmp_path, seconds=1200.0)
    page = pages.write_recording_page(view, tmp_path / "pages")
    tiles = list((tmp_path / "pages" / "rec_1").glob("*.jpg"))
    assert len(tiles) == 20
    assert page.stat().st_size < 1.5e6 and sum(t.stat().st_size for t in tiles) < 4e6
    assert max(len(curve) for s in _data(page)["systems"] for curve in s["scores"]) <= pages.MAX_POINTS


def test_a_users_file_has_estimates_without_reference_or_scores_against_it(tmp_path: Path):
    page = pages.write_recording_page(_view(tmp_path, reference=False), tmp_path / "pages")
    data = _data(page)
    assert data["reference"] is None and data["systems"][0]["events"] == [[1.05, 2.1, 0], [14.0, 15.0, 1]]
    assert "event F1" not in page.read_text().split("<script")[0]


def test_the_index_lists_each_recording_with_its_worst_class(tmp_path: Path):
    view = _view(tmp_path)
    page = pages.write_recording_page(view, tmp_path / "pages")
    row = pages.index_row(view, page)
    assert (row.page, row.reference_events, row.estimates) == ("rec_1.html", 3, {"proposed": 2, "baseline": 1})
    assert row.worst_class == "door"  # door and steps: no system hits them, one event each; the tie goes by name
    index = pages.write_index("set", [row], ["proposed", "baseline"], tmp_path / "pages")
    assert "rec_1.html" in index.read_text() and not re.search(r"https?://", index.read_text())


# In a real browser: Debian's chromium driven by playwright, the pages opened from disk.

SCREENSHOTS = Path(
    __import__("os").environ.get("MTSED_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


@pytest.fixture(scope="module")
def browser():
    from tests.services import chromium_browser

    with chromium_browser() as browser:
        yield browser


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems, requests = [], []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    page.wait_for_function("window.mtsedPage !== undefined || document.getElementById('recordings') !== null")
    return page, problems, requests


@pytest.mark.slow
def test_a_page_opened_from_disk_plays_seeks_and_follows_the_audio(browser, tmp_path: Path):
    """No console error; every request a local file of the page's own folder or its linked audio;
    the cursor where the audio is; a click on an event seeks to its onset."""
    from urllib.parse import unquote

    view = _view(tmp_path)
    page_path = pages.write_recording_page(view, tmp_path / "pages")
    page, problems, requests = _open(browser, page_path.as_uri())
    page.wait_for_function("document.getElementById('audio').readyState >= 1")
    page.evaluate("document.getElementById('audio').currentTime = 7.5")
    page.wait_for_function("document.getElementById('cursor').style.left === (100 * 7.5 / 20) + '%'")
    steps = page.locator(".ev.reference").nth(2)  # the reference walk, 8-12 s
    steps.click()
    page.wait_for_function("Math.abs(document.getElementById('audio').currentTime - 8.0) < 0.5")
    assert page.evaluate("location.protocol") == "file:"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "page-recording.png"), full_page=True)
    page.close()
    assert problems == []
    allowed = (tmp_path / "pages").resolve(), (tmp_path / "audio" / "rec 1.wav").resolve()
    for url in requests:
        assert url.startswith("file://"), url
        local = Path(unquote(url[len("file://") :]).split("#")[0])
        assert local == allowed[1] or allowed[0] in local.parents, url


@pytest.mark.slow
def test_a_moment_link_opens_the_page_there(browser, tmp_path: Path):
    page_path = pages.write_recording_page(_view(tmp_path), tmp_path / "pages")
    page, problems, _ = _open(browser, page_path.as_uri() + "#t=12.5")
    page.wait_for_function("document.getElementById('cursor').style.left === (100 * 12.5 / 20) + '%'")
    assert problems == []
    page.close()


@pytest.mark.slow
def test_the_index_sorts_by_f1_with_the_worst_recording_first(browser, tmp_path: Path):
    rows = []
    for k, (f1_a, f1_b) in enumerate([(0.6, 0.5), (0.1, 0.2), (0.9, 0.05)]):
        rows.append(
            pages.IndexRow(f"mix-{k}", f"mix-{k}.html", 40.0, 10, {"a": 5, "b": 6}, {"a": f1_a, "b": f1_b}, "dog")
        )
    index = pages.write_index(
        "overlapping",
        rows,
        ["a", "b"],
        tmp_path,
        [{"system": "a", "overall_f1": 0.5, "overall_er": 0.7, "class_average_f1": 0.4, "class_average_er": 0.8}],
    )
    page, problems, _ = _open(browser, index.as_uri())
    order = "Array.from(document.querySelectorAll('#recordings tbody tr')).map((r) => r.dataset.id)"
    assert page.evaluate(order) == ["mix-1", "mix-2", "mix-0"]  # by mean F1: 0.15, 0.475, 0.55
    page.get_by_text("b event F1 (%)").click()
    assert page.evaluate(order)[0] == "mix-2"  # b's worst
    page.get_by_text("b event F1 (%)").click()
    assert page.evaluate(order)[0] == "mix-0"  # and reversed
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "page-index.png"), full_page=True)
    assert problems == []
    page.close()


HOSTILE = "rec <!--<script> </script> & 'x'"  # what a script block must not let through raw


def test_names_that_look_like_markup_stay_data(tmp_path: Path):
    view = dataclasses.replace(_view(tmp_path), id=HOSTILE, labels=("dog", "<b>door</b>", "steps & co"))
    data = _data(pages.write_recording_page(view, tmp_path / "pages"))
    assert data["id"] == HOSTILE and data["labels"] == ["dog", "<b>door</b>", "steps & co"]


@pytest.mark.slow
def test_a_page_named_like_markup_opens_and_runs_in_a_browser(browser, tmp_path: Path):
    """The JSON block cannot swallow the page's script: it runs, and shows the name as text."""
    view = dataclasses.replace(_view(tmp_path), id=HOSTILE)
    page, problems, _ = _open(browser, pages.write_recording_page(view, tmp_path / "pages").as_uri())
    assert page.evaluate("window.mtsedPage !== undefined")
    assert page.evaluate("JSON.parse(document.getElementById('page-data').textContent).id") == HOSTILE
    assert HOSTILE in page.evaluate("document.body.innerText")
    assert problems == []
    page.close()
