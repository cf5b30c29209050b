import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mtsed.config import ClipsConfig
from mtsed.data.default.clips import (
    BACKGROUND,
    condition,
    curate_debian,
    curate_folder,
    download_bytes,
    read_catalogue,
    read_clip_manifest,
    read_licences,
    selected_entries,
    write_clip_manifest,
)
from mtsed.io.audio import AudioError


def test_catalogue_has_enough_clips_for_the_default_labels():
    from mtsed.config import load_params
    from tests.conftest import REPO

    params = load_params(REPO / "params.yaml")
    licences = read_licences()
    assert all(entry.package in licences for entry in read_catalogue())
    entries = selected_entries(params.generated_labels() | {BACKGROUND}, params.clips.extra_packages)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.role] = counts.get(entry.role, 0) + 1
    assert counts[BACKGROUND] >= 3
    for label in params.prepare.overlapping.labels:
        assert counts.get(label, 0) >= 9, label  # the default overlapping labels: every class with >= 9 clips
    for label in params.prepare.isolated.labels:
        assert counts.get(label, 0) >= params.prepare.isolated.sources_per_label, label
    assert download_bytes(entries) < 400e6  # the default download stays under 400 MB
    assert not any(licences[e.package].large for e in entries)


def test_large_packages_come_only_when_named():
    everything = selected_entries(None, extra_packages=["0ad-data"])
    assert {e.package for e in everything} >= {"0ad-data", "ufoai-sound"}
    assert "0ad-data" not in {e.package for e in selected_entries(None)}
    assert download_bytes(selected_entries(None)) < 420e6  # every small package, all labels
    with pytest.raises(ValueError, match="unknown package"):
        selected_entries(None, extra_packages=["not-a-package"])


def test_condition_trims_silence_and_caps_length():
    sr = 44100
    tone = np.sin(np.arange(sr * 3) / 3).astype(np.float32)
    signal = np.concatenate([np.zeros(sr), tone, np.zeros(sr)])
    cut = condition(signal, ClipsConfig(max_clip_seconds=2.0), "dog", "x")
    assert cut.size == 2 * sr and np.abs(cut[:100]).max() > 0.1
    background = condition(signal, ClipsConfig(max_clip_seconds=2.0), BACKGROUND, "x")
    assert abs(background.size - 3 * sr) < 0.05 * sr
    with pytest.raises(AudioError, match="silent"):
        condition(np.zeros(sr, np.float32), ClipsConfig(), "dog", "quiet.wav")


def test_curate_folder_writes_the_same_layout_and_manifest(clip_folder: Path, tmp_path: Path):
    out = tmp_path / "curated"
    clips = curate_folder(ClipsConfig(source="folder", folder=str(clip_folder)), clip_folder, out)
    write_clip_manifest(out, clips)
    assert read_clip_manifest(out) == [
        c.__class__(c.role, c.file, c.source, c.licence, round(c.seconds, 4), c.credit) for c in clips
    ]
    assert {c.role for c in clips} == {"beep", "chirp", "knock", BACKGROUND}
    data, sr = sf.read(str(out / clips[-1].file))
    assert sr == 44100 and data.ndim == 1  # backgrounds were 22.05 kHz
    assert "user-supplied" in (out / "ATTRIBUTION.md").read_text()


def test_curate_folder_without_background_is_refused(tmp_path: Path, clip_folder: Path):
    shutil.rmtree(clip_folder / "background")
    with pytest.raises(FileNotFoundError, match="background"):
        curate_folder(ClipsConfig(source="folder", folder=str(clip_folder)), clip_folder, tmp_path / "o")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="apt-get not available (not a Debian machine)")
def test_real_clips_out_of_qt_resources_and_an_openttd_sound_set(tmp_path: Path):
    """gcompris-qt-data (44 MB) packs its sounds in Qt .rcc files, openttd-opensfx (10 MB) in one .cat."""
    packages = {"gcompris-qt-data", "openttd-opensfx"}
    wanted = [e for e in read_catalogue() if e.package in packages]
    out = tmp_path / "clips"
    clips = curate_debian(ClipsConfig(), out, tmp_path / "debs", packages=packages)
    assert len(clips) == len(wanted) >= 25
    for clip in clips:
        signal, sr = sf.read(str(out / clip.file))
        assert sr == 44100 and signal.size > 0.05 * sr and np.abs(signal).max() > 0.01
    credits = [c.credit for c in clips if c.source.startswith("debian:openttd-opensfx/")]
    assert len(credits) == 12 and all("License" in c for c in credits)
    write_clip_manifest(out, clips)
    assert "License" in (out / "ATTRIBUTION.md").read_text()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="apt-get not available (not a Debian machine)")
def test_real_clips_from_a_debian_package(tmp_path: Path):
    """Fetch one small real package (minetest-data, 3.5 MB) and curate its clips."""
    roles = {"door_slam", "glass_smash"}
    wanted = [e for e in read_catalogue() if e.role in roles and e.package == "minetest-data"]
    out = tmp_path / "clips"
    clips = curate_debian(ClipsConfig(), out, tmp_path / "debs", roles=roles, packages={"minetest-data"})
    write_clip_manifest(out, clips)
    assert len(clips) == len(wanted) >= 4
    assert (out / "licences" / "minetest-data.copyright").read_text().strip()
    for clip in clips:
        signal, sr = sf.read(str(out / clip.file))
        assert sr == 44100 and signal.size > 0.05 * sr and np.abs(signal).max() > 0.01
        assert clip.source.startswith("debian:minetest-data/") and "CC" in clip.licence
