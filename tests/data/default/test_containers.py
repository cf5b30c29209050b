"""Sound archives inside game packages: Qt resources, OpenTTD sound sets, zips."""

import io
import struct
import zipfile
import zlib

import pytest

from mtsed.data.default.containers import OpenTTDSoundContainer, QtResourceContainer, container_kind, open_container


def _name(text: str) -> bytes:
    encoded = text.encode("utf-16-be")
    return struct.pack(">HI", len(text), 0) + encoded


def _rcc(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """A version-3 Qt resource file holding ``dir/<name>`` files (``compressed``: qCompress)."""
    names, data, name_offsets = b"", b"", {}
    for text in ["dir", *files]:
        name_offsets[text] = len(names)
        names += _name(text)
    tree = struct.pack(">IHII", 0, 2, 1, 1) + b"\0" * 8  # root: 1 child, at index 1
    tree += struct.pack(">IHII", name_offsets["dir"], 2, len(files), 2) + b"\0" * 8
    for text, (payload, compressed) in files.items():
        blob = struct.pack(">I", len(payload)) + zlib.compress(payload) if compressed else payload
        tree += struct.pack(">IHHHI", name_offsets[text], 1 if compressed else 0, 0, 0, len(data)) + b"\0" * 8
        data += struct.pack(">I", len(blob)) + blob
    header_size = 24
    tree_offset, data_offset = header_size, header_size + len(tree)
    names_offset = data_offset + len(data)
    return b"qres" + struct.pack(">IIIII", 3, tree_offset, data_offset, names_offset, 0) + tree + data + names


def test_qt_resources_read_plain_and_compressed_members():
    archive = QtResourceContainer(
        _rcc({"a.ogg": (b"OggS plain", False), "b.wav": (b"RIFF squeezed" * 10, True)}), "x.rcc"
    )
    assert sorted(archive.files) == ["dir/a.ogg", "dir/b.wav"]
    assert archive.read("dir/a.ogg") == b"OggS plain" and archive.read("dir/b.wav") == b"RIFF squeezed" * 10
    with pytest.raises(FileNotFoundError, match="x.rcc: no member 'dir/c.ogg'"):
        archive.read("dir/c.ogg")
    with pytest.raises(ValueError, match="not a Qt resource"):
        QtResourceContainer(b"PK\3\4", "y.rcc")


def _cat(entries: list[tuple[str, bytes]]) -> bytes:
    header, body = b"", b""
    start = 8 * len(entries)
    for name, wav in entries:
        label = name.encode() + b"\0"
        header += struct.pack("<II", (start + len(body)) | 0x80000000, len(wav))
        body += bytes([len(label)]) + label + wav
    return header + body


def test_openttd_sound_sets_give_each_entry_and_its_credit():
    archive = OpenTTDSoundContainer(
        _cat([("Horn. By A. License: CC0.", b"RIFF1"), ("Sheep. By B.", b"RIFF22")]), "s.cat"
    )
    assert archive.read("1") == b"RIFF22" and archive.read("#0") == b"RIFF1"
    assert archive.credit("0") == "Horn. By A. License: CC0."
    with pytest.raises(FileNotFoundError, match="no entry 5"):
        archive.read("5")


def test_archives_are_told_apart_by_extension():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("sound/a.ogg", b"OggS")
    assert open_container(buffer.getvalue(), "base/0snd.pk3").read("sound/a.ogg") == b"OggS"
    assert [container_kind(p) for p in ("a.pk3", "b.ZIP", "c.rcc", "d.cat", "e.ogg")] == [
        "zip",
        "zip",
        "rcc",
        "cat",
        None,
    ]
    with pytest.raises(ValueError, match="not a known sound archive"):
        open_container(b"", "e.ogg")
