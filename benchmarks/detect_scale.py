"""Detection at scale: peak memory and speed of ``mtsed detect`` on long files and on folders.

    python benchmarks/detect_scale.py bundles/overlapping/proposed/bundle.pt data/overlapping \
        --minutes 2 20 60 --clips 500 [--before /path/to/old/checkout/src] [--check-equal]

Builds long recordings by tiling the data set's recordings (real clips, resampled to
``--rate``, 48 kHz by default so that resampling is part of the cost), and a folder of short
clips cut from them.  Each ``mtsed detect`` runs in its own process under ``/usr/bin/time``
(peak RSS); the real-time factor counts process start, as a user sees it.  ``--before``
runs the same command on another checkout's sources (e.g. the commit before streaming) for
comparison, and checks that its events are the same.  ``--check-equal`` also runs the
whole-file path in-process (decode all, features all, networks all) and checks that its
events equal the streamed ones.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from mtsed.data.datasets import load_dataset
from mtsed.io.audio import load_audio


def tile(source: np.ndarray, rate: int, minutes: float, path: Path) -> Path:
    """Write ``minutes`` of ``source`` repeated, block by block (never all in memory)."""
    total = int(minutes * 60 * rate)
    with sf.SoundFile(str(path), "w", rate, 1, format="FLAC", subtype="PCM_16") as out:
        written = 0
        while written < total:
            piece = source[: total - written]
            out.write(piece)
            written += len(piece)
    return path


def run_detect(paths: list[Path], bundle: Path, out: Path, src: Path | None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one ``mtsed detect`` process.

    Measured by ``/usr/bin/time``, not by ``wait4`` here: Linux carries the peak RSS of the
    memory a process replaces at ``exec`` into its own, so a child spawned from this (large)
    process would report this process's peak."""
    env = {**os.environ, "PYTHONPATH": str(src)} if src else dict(os.environ)
    report = out.with_suffix(".time")
    command = [
        "/usr/bin/time",
        "-f",
        "%e %M",
        "-o",
        str(report),
        sys.executable,
        "-m",
        "mtsed.cli",
        "detect",
        *map(str, paths),
        "--model",
        str(bundle),
        "--out",
        str(out),
    ]
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"detect failed: {result.stderr[-2000:]}")
    seconds, peak_kib = report.read_text().split()[-2:]
    return float(seconds), float(peak_kib) / 1024


def whole_file_events(bundle_path: Path, path: Path) -> str:
    """The event list of the whole-file path: all audio, all features, all network outputs."""
    from mtsed.detection.bundle import load_bundle
    from mtsed.features.logmel import log_mel
    from mtsed.io.events import format_event_list

    bundle = load_bundle(bundle_path)
    events, _ = bundle.decode(
        bundle.fold_outputs(log_mel(load_audio(path, bundle.features.sample_rate), bundle.features)), path.name
    )
    return format_event_list(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("data", type=Path, help="data set folder whose recordings are tiled")
    parser.add_argument("--minutes", type=float, nargs="*", default=[2, 20, 60])
    parser.add_argument("--clips", type=int, default=500, help="short clips in the folder benchmark (0: skip)")
    parser.add_argument("--clip-seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--before", type=Path, help="another checkout's src/ to compare with")
    parser.add_argument("--check-equal", action="store_true")
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    source = np.concatenate([load_audio(dataset.audio_path(r), args.rate) for r in dataset.recordings[:6]])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for minutes in args.minutes:
            path = tile(source, args.rate, minutes, tmp / f"field-{minutes:g}min.flac")
            for label, src in [("streaming", None), ("before", args.before)]:
                if label == "before" and src is None:
                    continue
                out = tmp / f"{label}-{minutes:g}"
                seconds, peak = run_detect([path], args.bundle, out, src)
                rows.append(
                    f"| {minutes:g} min, 1 file | {label} | {seconds:.1f} | {minutes * 60 / seconds:.0f}x | "
                    f"{peak:.0f} |"
                )
                print(rows[-1], flush=True)
            streamed = (tmp / f"streaming-{minutes:g}" / f"{path.stem}.tsv").read_text()
            if args.before:
                same = streamed == (tmp / f"before-{minutes:g}" / f"{path.stem}.tsv").read_text()
                print(f"{minutes:g} min: events equal to the --before checkout's: {same}", flush=True)
            if args.check_equal:
                same = streamed == whole_file_events(args.bundle, path)
                print(
                    f"{minutes:g} min: streamed events equal the whole-file path's: {same} "
                    f"({len(streamed.splitlines())} events)",
                    flush=True,
                )
            path.unlink()
        if args.clips:
            folder = tmp / "clips"
            folder.mkdir()
            step = int(args.clip_seconds * args.rate)
            for k in range(args.clips):
                start = (k * step * 7) % (len(source) - step)
                sf.write(str(folder / f"clip-{k:04d}.flac"), source[start : start + step], args.rate)
            seconds, peak = run_detect([folder], args.bundle, tmp / "clips-out", None)
            audio = args.clips * args.clip_seconds
            rows.append(
                f"| {args.clips} x {args.clip_seconds:g} s, one folder | streaming | {seconds:.1f} | "
                f"{audio / seconds:.0f}x ({args.clips / seconds:.1f} files/s) | {peak:.0f} |"
            )
            print(rows[-1], flush=True)
    print("\n| input | code | wall s | x real time | peak RSS MiB |\n|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    sys.exit(main())
