"""Sound files packed inside game archives: zip (``.pk3``, ``.zip``), Qt resources
(``.rcc``) and OpenTTD sound sets (``.cat``).

Zip goes through :mod:`zipfile`.  No maintained Python package reads the other two, and
each needs only a header walk, so they are read here by hand from their published layouts:

- ``.rcc`` (Qt's resource compiler): a big-endian header ``qres, version, tree offset,
  data offset, names offset``; tree entries of 14 (v1) or 22 (v2+) bytes name a child
  range (directories) or a data offset (files); names are UTF-16BE with a length and hash;
  file data is a 4-byte length then bytes, zlib-compressed (qCompress) when flag 1 is set.
- ``.cat`` (OpenTTD base sounds): little-endian ``(offset, size)`` pairs, their count
  given by the first offset / 8 (bit 31 of an offset is a flag); each entry is a length
  byte, a NUL-terminated name that credits the recording, then a complete WAV file.

The catalogue names a member as its path inside the archive, or for ``.cat`` as its index.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Protocol

KINDS = {".pk3": "zip", ".zip": "zip", ".rcc": "rcc", ".cat": "cat"}


class Container(Protocol):
    def read(self, member: str) -> bytes: ...

    def credit(self, member: str) -> str: ...


def container_kind(path: str) -> str | None:
    """``zip``, ``rcc`` or ``cat`` by the archive's extension; None for a plain sound file."""
    return KINDS.get(Path(path).suffix.lower())


class ZipContainer:
    def __init__(self, source: bytes | Path, name: str) -> None:
        self.name = name
        self.archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)

    def read(self, member: str) -> bytes:
        try:
            return self.archive.read(member)
        except KeyError:
            raise FileNotFoundError(f"{self.name}: no member {member!r}") from None

    def credit(self, member: str) -> str:
        return ""


class QtResourceContainer:
    """Files of a Qt ``.rcc`` resource bundle, by their path inside it."""

    def __init__(self, data: bytes, name: str) -> None:
        if data[:4] != b"qres":
            raise ValueError(f"{name}: not a Qt resource file (bad magic)")
        self.data, self.name = data, name
        version, self.tree, self.payload, self.names = struct.unpack_from(">IIII", data, 4)
        self.entry = 14 if version == 1 else 22
        self.files: dict[str, tuple[int, int]] = {}
        self._walk(0, "")

    def _name(self, offset: int) -> str:
        length = struct.unpack_from(">H", self.data, self.names + offset)[0]
        start = self.names + offset + 6  # length (2), hash (4)
        return self.data[start : start + 2 * length].decode("utf-16-be")

    def _walk(self, index: int, prefix: str) -> None:
        base = self.tree + index * self.entry
        name_offset, flags = struct.unpack_from(">IH", self.data, base)
        name = self._name(name_offset) if index else ""
        if flags & 2:  # directory: (child count, first child)
            count, first = struct.unpack_from(">II", self.data, base + 6)
            for k in range(count):
                self._walk(first + k, f"{prefix}{name}/" if index else "")
        else:
            self.files[prefix + name] = (flags, struct.unpack_from(">I", self.data, base + 10)[0])

    def read(self, member: str) -> bytes:
        if member not in self.files:
            raise FileNotFoundError(f"{self.name}: no member {member!r}")
        flags, offset = self.files[member]
        size = struct.unpack_from(">I", self.data, self.payload + offset)[0]
        raw = self.data[self.payload + offset + 4 : self.payload + offset + 4 + size]
        if flags & 1:
            return zlib.decompress(raw[4:])  # qCompress: 4-byte big-endian length, then zlib
        if flags & 4:
            raise ValueError(f"{self.name}: {member} is zstd-compressed, which is not supported")
        return raw

    def credit(self, member: str) -> str:
        return ""


class OpenTTDSoundContainer:
    """Entries of an OpenTTD ``.cat`` sound set, by index."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name
        count = (struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF) // 8
        if count == 0 or count * 8 > len(data):
            raise ValueError(f"{name}: not an OpenTTD sound set")
        self.entries = [struct.unpack_from("<II", data, 8 * i) for i in range(count)]

    def _entry(self, member: str) -> tuple[int, int, int]:
        index = int(member.lstrip("#"))
        if not 0 <= index < len(self.entries):
            raise FileNotFoundError(f"{self.name}: no entry {index} (it has {len(self.entries)})")
        offset, size = self.entries[index]
        offset &= 0x7FFFFFFF
        return offset + 1, self.data[offset], size

    def read(self, member: str) -> bytes:
        start, name_length, size = self._entry(member)
        return self.data[start + name_length : start + name_length + size]

    def credit(self, member: str) -> str:
        start, name_length, _ = self._entry(member)
        return self.data[start : start + name_length].rstrip(b"\0").decode("utf-8", "replace")


def open_container(source: bytes | Path, name: str) -> Container:
    """An archive read from bytes (or, for large zips, a file on disk)."""
    kind = container_kind(name)
    if kind == "zip":
        return ZipContainer(source, name)
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if kind == "rcc":
        return QtResourceContainer(data, name)
    if kind == "cat":
        return OpenTTDSoundContainer(data, name)
    raise ValueError(f"{name}: not a known sound archive ({', '.join(sorted(KINDS))})")
