"""Real sound clips for the embedded default data (stage ``clips``).

Clips come from redistributable Debian packages listed in ``resources/debian_clips.tsv``
(fetched once with ``apt-get download`` into a cache, then read straight out of the
``.deb``: an ``ar`` archive holding ``data.tar.*``), or from a user's folder in Scaper's
layout (``foreground/<label>/*.wav``, ``background/*.wav``).  Either way the result is a
curated folder of the same layout, 44.1 kHz mono, silence-trimmed, with ``clips.tsv``
(one row per clip: role, file, source, licence, duration) and the attributions.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from mtsed.audio import AudioError, decode_audio, load_audio, write_audio
from mtsed.config import ClipsConfig
from mtsed.fileio import write_text

BACKGROUND = "background"
SAMPLE_RATE = 44100


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
class Clip:
    """A curated clip: ``role`` is its label or ``background``; ``file`` relative to the folder."""

    role: str
    file: str
    source: str
    licence: str
    seconds: float


def _read_tsv(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def read_catalogue() -> list[CatalogueEntry]:
    """The shipped catalogue of Debian clips."""
    text = resources.files("mtsed.resources").joinpath("debian_clips.tsv").read_text()
    return [CatalogueEntry(r["role"], r["package"], r["path"], r["member"] or "") for r in _read_tsv(text)]


def read_licences() -> dict[str, str]:
    """Licence summary per Debian package (full texts come from the packages themselves)."""
    text = resources.files("mtsed.resources").joinpath("debian_licences.tsv").read_text()
    return {r["package"]: r["licence"] for r in _read_tsv(text)}


def fetch_debs(packages: list[str], cache_dir: Path) -> dict[str, Path]:
    """Return ``{package: .deb path}``, downloading missing ones with ``apt-get download``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(cache_dir.glob(f"{p}_*.deb"))]
    if missing:
        try:
            subprocess.run(["apt-get", "download", *missing], cwd=cache_dir, check=True, capture_output=True, text=True)
        except FileNotFoundError:
            raise RuntimeError("apt-get is not available: set clips.source to 'folder' and point clips.folder at your clips") from None
        except subprocess.CalledProcessError as error:
            raise RuntimeError(
                f"apt-get download {' '.join(missing)} failed ({error.stderr.strip()[-400:]}); "
                "run 'apt-get update' or use clips.source: folder"
            ) from None
    found = {}
    for package in packages:
        debs = sorted(cache_dir.glob(f"{package}_*.deb"))
        if not debs:
            raise RuntimeError(f"{package}: no .deb in {cache_dir} after apt-get download")
        found[package] = debs[-1]
    return found


def _ar_members(deb: Path) -> Iterator[tuple[str, bytes]]:
    """Members of a Debian ``ar`` archive (the format is 60-byte headers, 2-byte aligned)."""
    data = deb.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise ValueError(f"{deb}: not a Debian package (bad ar magic)")
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        yield name, data[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size % 2)


def read_deb_files(deb: Path, wanted: set[str]) -> dict[str, bytes]:
    """Bytes of the ``wanted`` paths (without leading ``./``) from a package's data archive."""
    for name, payload in _ar_members(deb):
        if name.startswith("data.tar"):
            found = {}
            with tarfile.open(fileobj=io.BytesIO(payload), mode="r:*") as archive:
                for member in archive:
                    path = member.name.removeprefix("./")
                    if path in wanted and member.isfile():
                        handle = archive.extractfile(member)
                        if handle is not None:
                            found[path] = handle.read()
            return found
    raise ValueError(f"{deb}: no data.tar member")


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


def curate_debian(
    cfg: ClipsConfig,
    out_dir: Path,
    cache_dir: Path,
    roles: set[str] | None = None,
    packages: set[str] | None = None,
) -> list[Clip]:
    """Fetch the catalogue's packages and write curated clips (optionally only some roles
    or some packages)."""
    entries = [
        e for e in read_catalogue()
        if (roles is None or e.role in roles) and (packages is None or e.package in packages)
    ]
    licences = read_licences()
    debs = fetch_debs(sorted({e.package for e in entries}), cache_dir)
    clips: list[Clip] = []
    used: set[str] = set()
    for package, deb in debs.items():
        mine = [e for e in entries if e.package == package]
        copyright_path = f"usr/share/doc/{package}/copyright"
        files = read_deb_files(deb, {e.path for e in mine} | {copyright_path})
        if copyright_path in files:
            write_text(out_dir / "licences" / f"{package}.copyright", files[copyright_path].decode("utf-8", "replace"))
        archives: dict[str, zipfile.ZipFile] = {}
        for entry in mine:
            if entry.path not in files:
                raise FileNotFoundError(f"{deb.name}: {entry.path} not found in the package")
            if entry.member:
                archive = archives.setdefault(entry.path, zipfile.ZipFile(io.BytesIO(files[entry.path])))
                payload = archive.read(entry.member)
            else:
                payload = files[entry.path]
            signal = condition(decode_audio(io.BytesIO(payload), entry.source, SAMPLE_RATE), cfg, entry.role, entry.source)
            name = _file_name(entry.role, f"{package}_{Path(entry.member or entry.path).stem}", used)
            write_audio(out_dir / name, signal, SAMPLE_RATE)
            clips.append(Clip(entry.role, name, entry.source, licences.get(package, "see licences/"), signal.size / SAMPLE_RATE))
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
    rows = ["role\tfile\tsource\tlicence\tseconds"]
    rows += [f"{c.role}\t{c.file}\t{c.source}\t{c.licence}\t{c.seconds:.4f}" for c in clips]
    write_text(out_dir / "clips.tsv", "\n".join(rows) + "\n")
    lines = [
        "# Attribution",
        "",
        "The clips in this folder were cut (silence trimmed, downmixed, resampled to 44.1 kHz)",
        "from the sources below. Licence texts of Debian packages are in `licences/`.",
        "",
        "| role | file | source | licence |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {c.role} | {c.file} | {c.source} | {c.licence} |" for c in clips]
    write_text(out_dir / "ATTRIBUTION.md", "\n".join(lines) + "\n")


def read_clip_manifest(clips_dir: Path) -> list[Clip]:
    """Read ``clips.tsv`` of a curated folder."""
    path = clips_dir / "clips.tsv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no clip manifest (run the clips stage first)")
    return [
        Clip(r["role"], r["file"], r["source"], r["licence"], float(r["seconds"]))
        for r in _read_tsv(path.read_text())
    ]
