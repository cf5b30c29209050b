"""Reading files straight out of Debian packages, large ones spilled to disk."""

import io
import tarfile
from pathlib import Path

import pytest

from mtsed.data.default.debian import read_deb_files


def _ar(members: dict[str, bytes]) -> bytes:
    out = b"!<arch>\n"
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return out


def _deb(path: Path, files: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(_ar({"debian-binary": b"2.0\n", "control.tar.xz": b"", "data.tar.xz": buffer.getvalue()}))
    return path


def test_files_are_read_straight_out_of_a_deb(tmp_path: Path):
    deb = _deb(tmp_path / "pkg_1.0_all.deb", {"usr/share/a.ogg": b"AAA", "usr/share/b.wav": b"B", "usr/x": b"X"})
    assert read_deb_files(deb, {"usr/share/a.ogg", "usr/share/b.wav"}) == {
        "usr/share/a.ogg": b"AAA",
        "usr/share/b.wav": b"B",
    }


def test_large_files_are_spilled_to_disk_not_held_in_memory(tmp_path: Path, monkeypatch):
    from mtsed.data.default import debian

    monkeypatch.setattr(debian, "SPILL_BYTES", 10)
    deb = _deb(tmp_path / "pkg_1.0_all.deb", {"usr/share/big.zip": b"Z" * 100, "usr/share/small": b"s"})
    (tmp_path / "spill").mkdir()
    found = read_deb_files(deb, {"usr/share/big.zip", "usr/share/small"}, tmp_path / "spill")
    assert found["usr/share/small"] == b"s" and found["usr/share/big.zip"].read_bytes() == b"Z" * 100
    with pytest.raises(ValueError, match="spill folder"):
        read_deb_files(deb, {"usr/share/big.zip"})


def test_a_non_deb_is_refused_by_name(tmp_path: Path):
    (tmp_path / "fake.deb").write_bytes(b"PK\x03\x04 not an ar archive")
    with pytest.raises(ValueError, match="fake.deb"):
        read_deb_files(tmp_path / "fake.deb", {"x"})
