"""Debian packages as a source of files: fetch with ``apt-get download``, read without root.

A ``.deb`` is an ``ar`` archive holding ``data.tar.*``.  Members are streamed from disk
(never the whole package in memory): 0ad-data's 1.4 GB package holds a 3.3 GB zip, so
large wanted files are spilled to a temporary folder and returned as paths.  The ``ar``
header walk is written by hand because no maintained Python package reads ``ar``;
``tarfile`` does the rest.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

SPILL_BYTES = 64 * 2**20  # wanted files larger than this are written to disk, not kept in memory


def fetch_debs(packages: list[str], cache_dir: Path) -> dict[str, Path]:
    """Return ``{package: .deb path}``, downloading missing ones with ``apt-get download``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(cache_dir.glob(f"{p}_*.deb"))]
    if missing:
        try:
            subprocess.run(["apt-get", "download", *missing], cwd=cache_dir, check=True, capture_output=True, text=True)
        except FileNotFoundError:
            raise RuntimeError(
                "apt-get is not available: set clips.source to 'folder' and point clips.folder at your clips"
            ) from None
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


class _Window(io.RawIOBase):
    """A read-only view of ``size`` bytes of an open file starting at ``start``."""

    def __init__(self, handle: io.BufferedReader, start: int, size: int) -> None:
        self.handle, self.start, self.size, self.pos = handle, start, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.pos)
        if n <= 0:
            return 0
        self.handle.seek(self.start + self.pos)
        data = self.handle.read(n)
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


def ar_members(handle: io.BufferedReader, name: str) -> Iterator[tuple[str, int, int]]:
    """``(member name, start offset, size)`` of an ``ar`` archive (60-byte headers, 2-byte aligned)."""
    handle.seek(0)
    if handle.read(8) != b"!<arch>\n":
        raise ValueError(f"{name}: not a Debian package (bad ar magic)")
    pos = 8
    while True:
        handle.seek(pos)
        header = handle.read(60)
        if len(header) < 60:
            return
        member = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        yield member, pos + 60, size
        pos += 60 + size + (size % 2)


def read_deb_files(deb: Path, wanted: set[str], spill_dir: Path | None = None) -> dict[str, bytes | Path]:
    """The ``wanted`` paths (without leading ``./``) of a package's data archive: bytes, or
    for files over ``SPILL_BYTES`` a path under ``spill_dir`` (required for such files)."""
    with open(deb, "rb") as handle:
        for member, start, size in ar_members(handle, str(deb)):
            if not member.startswith("data.tar"):
                continue
            found: dict[str, bytes | Path] = {}
            stream = io.BufferedReader(_Window(handle, start, size), buffer_size=2**20)
            with tarfile.open(fileobj=stream, mode="r|*") as archive:
                for info in archive:
                    path = info.name.removeprefix("./")
                    if path not in wanted or not info.isfile():
                        continue
                    source = archive.extractfile(info)
                    if source is None:
                        continue
                    if info.size > SPILL_BYTES:
                        if spill_dir is None:
                            raise ValueError(
                                f"{deb.name}: {path} is {info.size / 2**20:.0f} MiB; give a spill folder to read it"
                            )
                        target = spill_dir / Path(path).name
                        with open(target, "wb") as out:
                            while chunk := source.read(2**22):
                                out.write(chunk)
                        found[path] = target
                    else:
                        found[path] = source.read()
                    if len(found) == len(wanted):
                        break
            return found
    raise ValueError(f"{deb}: no data.tar member")
