"""Real sound clips for the embedded default data (stage ``clips``).

Clips come from redistributable Debian packages listed in ``resources/debian_clips.tsv``
(fetched once with ``apt-get download`` into a cache, then read straight out of the
``.deb``, and out of the game archive inside it where there is one: see
:mod:`mtsed.data.default.debian` and :mod:`mtsed.data.default.containers`), or from a user's folder in Scaper's
layout (``foreground/<label>/*.wav``, ``background/*.wav``).  Either way the result is a
curated folder of the same layout, 44.1 kHz mono, silence-trimmed, with ``clips.tsv``
(one row per clip: role, file, source, licence, duration, credit) and the attributions.

Packages over ``LARGE_PACKAGE_BYTES`` are fetched only when ``clips.extra_packages``
names them, which keeps the default download under 400 MB.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from mtsed.config import ClipsConfig
from mtsed.data.default.containers import Container, container_kind, open_container
from mtsed.data.default.debian import fetch_debs, read_deb_files
from mtsed.io.audio import AudioError, decode_audio, load_audio, write_audio
from mtsed.io.fileio import write_text
from mtsed.io.progress import progress

BACKGROUND = "background"
SAMPLE_RATE = 44100
LARGE_PACKAGE_BYTES = 100_000_000


@dataclass(frozen=True)
class CatalogueEntry:
    """One clip in a Debian package: ``path`` in the package, ``member`` inside a zip there."""

    role: str
    package: str
    path: str
    member: str = ""

    @property
    def source(self) -> str:
        return f"debian:{self.package}/{self.path}" + (f"!{self.member}" if self.member else "")


@dataclass(frozen=True)
class PackageInfo:
    """A source package's licence summary and download size."""

    licence: str
    bytes: int

    @property
    def large(self) -> bool:
        return self.bytes > LARGE_PACKAGE_BYTES


@dataclass(frozen=True)
class Clip:
    """A curated clip: ``role`` is its label or ``background``; ``file`` relative to the folder;
    ``credit`` names the recording's author where the source says so."""

    role: str
    file: str
    source: str
    licence: str
    seconds: float
    credit: str = ""


def _read_tsv(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def read_catalogue() -> list[CatalogueEntry]:
    """The shipped catalogue of Debian clips."""
    text = resources.files("mtsed.data.default.resources").joinpath("debian_clips.tsv").read_text()
    return [CatalogueEntry(r["role"], r["package"], r["path"], r["member"] or "") for r in _read_tsv(text)]


def read_licences() -> dict[str, PackageInfo]:
    """Licence summary and size per Debian package (full texts come from the packages)."""
    text = resources.files("mtsed.data.default.resources").joinpath("debian_licences.tsv").read_text()
    return {r["package"]: PackageInfo(r["licence"], int(r["bytes"])) for r in _read_tsv(text)}


def selected_entries(
    roles: Iterable[str] | None, extra_packages: Iterable[str] = (), packages: set[str] | None = None
) -> list[CatalogueEntry]:
    """Catalogue entries of ``roles`` from default-size packages plus ``extra_packages``."""
    wanted, extra, info = None if roles is None else set(roles), set(extra_packages), read_licences()
    unknown = sorted(extra - set(info))
    if unknown:
        raise ValueError(
            f"clips.extra_packages: unknown package(s) {unknown}; known: {sorted(p for p in info if info[p].large)}"
        )
    return [
        e
        for e in read_catalogue()
        if (wanted is None or e.role in wanted)
        and (packages is None or e.package in packages)
        and (not info[e.package].large or e.package in extra)
    ]


def download_bytes(entries: Iterable[CatalogueEntry]) -> int:
    """Total size of the packages these entries come from."""
    info = read_licences()
    return sum(info[p].bytes for p in {e.package for e in entries})


def condition(signal: np.ndarray, cfg: ClipsConfig, role: str, name: str) -> np.ndarray:
    """Trim leading/trailing silence (so annotations are exact) and cap foreground length."""
    if signal.size == 0 or not np.any(np.abs(signal) > 0):
        raise AudioError(f"{name}: silent or empty clip")
    loud = np.flatnonzero(np.abs(signal) >= np.abs(signal).max() * 10 ** (-cfg.trim_top_db / 20))
    trimmed = signal[loud[0] : loud[-1] + 1]  # sample-exact, so onsets in annotations are too
    if role != BACKGROUND:
        trimmed = trimmed[: int(cfg.max_clip_seconds * SAMPLE_RATE)]
    if trimmed.size < int(0.05 * SAMPLE_RATE):
        raise AudioError(f"{name}: shorter than 50 ms after trimming silence")
    return trimmed


def _file_name(role: str, stem: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-") or "clip"
    folder = BACKGROUND if role == BACKGROUND else f"foreground/{role}"
    name, k = f"{folder}/{base}.wav", 1
    while name in used:
        k += 1
        name = f"{folder}/{base}-{k}.wav"
    used.add(name)
    return name


def _clip_payloads(
    deb_name: str, entries: list[CatalogueEntry], files: dict[str, bytes | Path]
) -> Iterable[tuple[CatalogueEntry, bytes, str]]:
    """Each entry's encoded audio and credit, from the package's files (and their archives)."""
    archives: dict[str, Container] = {}
    for entry in entries:
        if entry.path not in files:
            raise FileNotFoundError(f"{deb_name}: {entry.path} not found in the package")
        if container_kind(entry.path) is None:
            yield entry, files[entry.path], ""  # type: ignore[misc]
            continue
        if entry.path not in archives:
            archives[entry.path] = open_container(files[entry.path], entry.path)
        yield entry, archives[entry.path].read(entry.member), archives[entry.path].credit(entry.member)


def curate_debian(
    cfg: ClipsConfig,
    out_dir: Path,
    cache_dir: Path,
    roles: set[str] | None = None,
    packages: set[str] | None = None,
) -> list[Clip]:
    """Fetch the catalogue's packages and write curated clips (optionally only some roles
    or some packages); packages over 100 MB only when ``cfg.extra_packages`` names them."""
    entries = selected_entries(roles, cfg.extra_packages, packages)
    licences = read_licences()
    debs = fetch_debs(sorted({e.package for e in entries}), cache_dir)
    clips: list[Clip] = []
    used: set[str] = set()
    with progress(total=len(entries), desc="clips", unit="clip") as bar, tempfile.TemporaryDirectory() as spill:
        for package, deb in debs.items():
            mine = [e for e in entries if e.package == package]
            copyright_path = f"usr/share/doc/{package}/copyright"
            files = read_deb_files(deb, {e.path for e in mine} | {copyright_path}, Path(spill))
            copyright_text = files.get(copyright_path)
            if isinstance(copyright_text, bytes):
                write_text(out_dir / "licences" / f"{package}.copyright", copyright_text.decode("utf-8", "replace"))
            for entry, payload, credit in _clip_payloads(deb.name, mine, files):
                signal = condition(
                    decode_audio(io.BytesIO(payload), entry.source, SAMPLE_RATE), cfg, entry.role, entry.source
                )
                name = _file_name(entry.role, f"{package}_{Path(entry.member or entry.path).stem}", used)
                write_audio(out_dir / name, signal, SAMPLE_RATE)
                clips.append(
                    Clip(entry.role, name, entry.source, licences[package].licence, signal.size / SAMPLE_RATE, credit)
                )
                bar.update()
    return clips


def curate_folder(cfg: ClipsConfig, folder: Path, out_dir: Path) -> list[Clip]:
    """Curate a user's ``foreground/<label>/*`` and ``background/*`` audio files."""
    sources = [(p.parent.name, p) for p in sorted((folder / "foreground").glob("*/*")) if p.is_file()]
    sources += [(BACKGROUND, p) for p in sorted((folder / BACKGROUND).glob("*")) if p.is_file()]
    if not any(role != BACKGROUND for role, _ in sources):
        raise FileNotFoundError(f"{folder}: no clips under foreground/<label>/")
    if not any(role == BACKGROUND for role, _ in sources):
        raise FileNotFoundError(f"{folder}: no clips under background/")
    clips, used = [], set()
    for role, path in sources:
        signal = condition(load_audio(path, SAMPLE_RATE), cfg, role, str(path))
        name = _file_name(role, path.stem, used)
        write_audio(out_dir / name, signal, SAMPLE_RATE)
        clips.append(Clip(role, name, f"folder:{path}", "user-supplied", signal.size / SAMPLE_RATE))
    return clips


def write_clip_manifest(out_dir: Path, clips: list[Clip]) -> None:
    """``clips.tsv`` plus ``ATTRIBUTION.md`` naming every clip's source and licence."""
    rows = ["role\tfile\tsource\tlicence\tseconds\tcredit"]
    rows += [f"{c.role}\t{c.file}\t{c.source}\t{c.licence}\t{c.seconds:.4f}\t{_cell(c.credit)}" for c in clips]
    write_text(out_dir / "clips.tsv", "\n".join(rows) + "\n")
    lines = [
        "# Attribution",
        "",
        "The clips in this folder were cut (silence trimmed, downmixed, resampled to 44.1 kHz)",
        "from the sources below. Licence texts of Debian packages are in `licences/`.",
        "",
        "| role | file | source | licence | credit |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {c.role} | {c.file} | {c.source} | {c.licence} | {_cell(c.credit).replace('|', '/')} |" for c in clips
    ]
    write_text(out_dir / "ATTRIBUTION.md", "\n".join(lines) + "\n")


def read_clip_manifest(clips_dir: Path) -> list[Clip]:
    """Read ``clips.tsv`` of a curated folder."""
    path = clips_dir / "clips.tsv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no clip manifest (run the clips stage first)")
    return [
        Clip(r["role"], r["file"], r["source"], r["licence"], float(r["seconds"]), r.get("credit") or "")
        for r in _read_tsv(path.read_text())
    ]


def _cell(text: str) -> str:
    """One TSV cell: tabs and line breaks become spaces."""
    return " ".join(text.split())
