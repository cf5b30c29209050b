"""The ``mtsed`` command: one entry point for DVC stages, the Docker image and users.

Each sub-command reads ``params.yaml`` (via :mod:`mtsed.config`), calls one function of
:mod:`mtsed.stages`, prints its metrics and optionally saves them as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mtsed import stages
from mtsed.config import ConfigError, Params, load_params


def _cache_dir() -> Path:
    root = os.environ.get("MTSED_CACHE_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "mtsed")
    return Path(root) / "debs"


def _run_clips(params: Params, args: argparse.Namespace) -> dict:
    labels = set(params.prepare.isolated.labels) | set(params.prepare.overlapping.labels)
    return stages.clips(params.clips, labels, Path(args.out), Path(args.cache_dir))


def _run_prepare(params: Params, args: argparse.Namespace) -> dict:
    return stages.prepare(params.prepare, Path(args.clips), Path(args.out))


def _run_features(params: Params, args: argparse.Namespace) -> dict:
    return stages.features(params.features, Path(args.data), Path(args.out))


def _run_targets(params: Params, args: argparse.Namespace) -> dict:
    return stages.targets(params.features, params.targets, Path(args.data), Path(args.features), Path(args.out))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mtsed", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("--metrics", help="also write the stage's metrics to this JSON file")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("clips", help="curate real clips (Debian packages or your folder)")
    p.add_argument("--out", default="data/clips")
    p.add_argument("--cache-dir", default=str(_cache_dir()), help="where downloaded .deb files are kept")
    p.set_defaults(run=_run_clips)

    p = sub.add_parser("prepare", help="mix the default isolated and overlapping data sets")
    p.add_argument("--clips", default="data/clips")
    p.add_argument("--out", default="data")
    p.set_defaults(run=_run_prepare)

    p = sub.add_parser("features", help="log-mel features of one data set")
    p.add_argument("--data", required=True, help="data set folder holding manifest.json")
    p.add_argument("--out", required=True)
    p.set_defaults(run=_run_features)

    p = sub.add_parser("targets", help="triplet targets of one data set")
    p.add_argument("--data", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(run=_run_targets)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        params = load_params(args.params)
        metrics = args.run(params, args)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"mtsed {args.command}: error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(metrics, indent=2)
    print(text)
    if args.metrics:
        from mtsed.fileio import write_text

        write_text(args.metrics, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
