"""The test helpers' own rule: a program a test needs and cannot get skips locally, fails in CI."""

import os

import pytest

from tests.services import debian_program


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_program_fails_under_ci_and_skips_elsewhere(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # not root: nothing can be installed
    with pytest.raises(outcome, match="mtsed-no-such-program"):
        debian_program("mtsed-no-such-program", "mtsed-no-such-package")
