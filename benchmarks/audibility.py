"""How much of what the embedded sets' labels call active can be heard (mtsed.data.default.audibility).

    python benchmarks/audibility.py --clips data/clips [--params params.yaml] [--sets overlapping] \
        [--out audibility.json]

Rebuilds each generated set exactly as the prepare stage does (same params, same seeds),
keeping every event's part of the mixture, and prints per split and class the share of
annotated frames in which the event is quieter than the rest of the mixture in every mel
band (masked), and the share of events masked over more than half their frames. Needs the
curated clips of the clips stage; the isolated set takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from mtsed.config import load_params
from mtsed.data.default.audibility import EventAudibility, event_audibility, masked_share_by_class
from mtsed.data.default.clips import read_clip_manifest
from mtsed.data.default.mixing import ClipBank
from mtsed.data.default.synthetic import isolated_mixtures, overlapping_mixtures
from mtsed.io.fileio import write_json

BUILDERS = {"isolated": isolated_mixtures, "overlapping": overlapping_mixtures}


def measure(params_path: Path, clips_dir: Path, sets: list[str]) -> dict[str, dict[str, dict]]:
    """``{set: {split: {label: shares}}}`` plus an ``all`` row per split."""
    params = load_params(params_path)
    bank = ClipBank(clips_dir, read_clip_manifest(clips_dir), params.prepare.sample_rate)
    result: dict[str, dict[str, dict]] = {}
    for name in sets:
        by_split: dict[str, list[EventAudibility]] = defaultdict(list)
        for _, split, mixture in BUILDERS[name](params.prepare, bank, keep_stems=True, desc=f"audibility {name}"):
            by_split[split].extend(event_audibility(mixture, params.features))
        result[name] = {}
        for split, items in by_split.items():
            table = masked_share_by_class(items)
            frames = sum(i.frames for i in items)
            table["all"] = {
                "events": len(items),
                "frames": frames,
                "masked_frames": sum(i.masked for i in items) / max(frames, 1),
                "mostly_masked_events": sum(i.masked * 2 > i.frames for i in items) / max(len(items), 1),
            }
            result[name][split] = table
    return result


def markdown(result: dict[str, dict[str, dict]]) -> str:
    lines = []
    for name, splits in result.items():
        labels = list(next(iter(splits.values())))
        header = " | ".join(f"{split}: frames masked / events mostly masked (%)" for split in splits)
        lines += [f"**{name}**", "", f"| class | {header} |", "|---|" + "---|" * len(splits)]
        for label in labels:
            cells = [
                f"{100 * s[label]['masked_frames']:.1f} / {100 * s[label]['mostly_masked_events']:.1f}"
                if label in s
                else "-"
                for s in splits.values()
            ]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--clips", type=Path, default=Path("data/clips"), help="curated clips (the clips stage's output)"
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--sets", nargs="+", choices=sorted(BUILDERS), default=sorted(BUILDERS))
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    result = measure(args.params, args.clips, args.sets)
    print(markdown(result))
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
