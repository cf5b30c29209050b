"""Progress in a log: a handful of plain lines with the figures, never carriage returns."""

import io

import pytest

from mtsed.io import progress as progress_module
from mtsed.io.progress import LogProgress, progress


def test_a_long_loop_leaves_one_line_per_tenth():
    out = io.StringIO()
    items = list(LogProgress(range(1000), desc="features isolated", unit="rec", file=out))
    lines = out.getvalue().splitlines()
    assert items == list(range(1000)) and "\r" not in out.getvalue()
    assert len(lines) == 10
    assert lines[0].startswith("features isolated: 100/1000 rec (10 %), ")
    assert lines[-1].startswith("features isolated: 1000/1000 rec (100 %), ")


def test_manual_updates_postfix_and_a_last_line_on_close():
    out = io.StringIO()
    with LogProgress(total=7.5, desc="detect", unit="s", file=out) as bar:
        bar.set_postfix(loss="0.41")
        bar.update(0.5)  # below the first tenth: nothing yet
        assert out.getvalue() == ""
        bar.update(2.0)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("detect: 2.5/7.5 s (33 %)") and lines[0].endswith("loss=0.41")
    assert len(lines) == 1  # close adds nothing when the last update was printed


def test_progress_picks_plain_lines_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setattr(progress_module, "interactive", lambda: False)
    bar = progress(range(3), desc="targets", unit="rec")
    assert isinstance(bar, LogProgress) and list(bar) == [0, 1, 2]
    assert capsys.readouterr().err.splitlines()[-1].startswith("targets: 3/3 rec (100 %)")
    monkeypatch.setattr(progress_module, "interactive", lambda: True)
    assert not isinstance(progress(range(3), desc="targets"), LogProgress)
    silent = progress(range(3), disable=True)
    assert list(silent) == [0, 1, 2] and not isinstance(silent, LogProgress)
