"""Training throughput of the CRNN: today's step beside the step before issue 30, side by side.

"before" is the CRNN as it trained until issue 30: ``nn.GRU``, ``nn.Dropout``, ReLU before the
frequency pool, and glibc's default allocator settings. "now" is ``CRNN`` as it is (the CPU
recurrence of ``mtsed.model.gru``, the packed dropout masks, ReLU after the pool, freed memory
kept between steps). Both take Adam steps on the same random 512-frame segments (11 classes,
proposed system, channels-last as training runs). Each measurement is its own process, so
peak memory is its own, and the two alternate, round after round, so that drift in the
machine's speed reaches both. Prints one Markdown row per configuration (medians over rounds):

    python benchmarks/train_throughput.py                        # F=H=64 batch 8, F=H=256 batch 4; fp32 and bf16
    python benchmarks/train_throughput.py --configs 64x64x8 --precisions fp32 --rounds 5
    python benchmarks/train_throughput.py --loader features/overlapping targets/overlapping

On CUDA both run under fp16 autocast with a GradScaler, as training does (and ``nn.GRU`` is
cuDNN's in both).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from mtsed.config import load_params
from mtsed.model.losses import LossRecipe
from mtsed.model.memory import reuse_freed_memory
from mtsed.model.network import CRNN, ModelSpec, count_parameters, forward_flops
from mtsed.model.training import batch_loss, optimiser_step

FRAMES = 512
CLASSES = 11  # as the default overlapping set
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def as_before(model: CRNN) -> CRNN:
    """``model`` with the layers it had before issue 30 (same parameters, same mathematics)."""
    model.gru.__class__ = nn.GRU
    for index, block in enumerate(model.convs):
        conv, norm, pool, relu, dropout = block
        dropout.__class__ = nn.Dropout
        model.convs[index] = nn.Sequential(conv, norm, relu, pool, dropout)  # ReLU before the pool
    model.dropout.__class__ = nn.Dropout
    return model


def _measure(filters: int, hidden: int, batch: int, steps: int, precision: str, code: str) -> dict:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    model_cfg = dataclasses.replace(
        load_params().model, filters=filters, hidden=hidden
    )  # the default recipe's, resized
    spec = ModelSpec.of(model_cfg, CLASSES, 40, "proposed")
    model = CRNN(spec)
    if code == "before":
        model = as_before(model)
    model = model.to(device, memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" and precision == "fp16" else None
    recipe = LossRecipe.of(load_params().train, "proposed", spec.distances)  # the default recipe's loss
    x = torch.randn(batch, FRAMES, 40, device=device)
    y = torch.rand(batch, FRAMES, 3 * CLASSES, device=device).round()
    mask = torch.ones(batch, FRAMES, device=device)
    memory = reuse_freed_memory() if code == "now" else contextlib.nullcontext()

    def step() -> float:
        started = time.perf_counter()
        optimiser_step(batch_loss(model, x, y, mask, recipe, dtype), optimiser, scaler)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    with memory:
        for _ in range(3):  # warm-up: allocator, kernel selection
            step()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        seconds = statistics.median(step() for _ in range(steps))
    peak = (
        torch.cuda.max_memory_allocated()
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    return {
        "segments_per_second": batch / seconds,
        "peak_mib": peak / 2**20,
        "parameters": count_parameters(model),
        "train_gflop_per_segment": 3 * forward_flops(spec, FRAMES) / 1e9,
    }


def _one(config: str, precision: str, code: str, steps: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--one",
        config,
        "--steps",
        str(steps),
        "--precisions",
        precision,
        "--code",
        code,
    ]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def cpu_name() -> str:
    """The CPU's model name and the vector extensions that matter here (Linux)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
        platform.processor() or platform.machine(),
    )
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    present = " ".join(f for f in FLAGS if f in flags) or "none of " + ", ".join(FLAGS)
    return f"{model}, {torch.get_num_threads()} threads, flags: {present}"


def _loader_throughput(features_dir: Path, targets_dir: Path, batch: int) -> dict:
    """Segments/s the DataLoader delivers from memory-mapped features (no model)."""
    from torch.utils.data import DataLoader

    from mtsed.data.windows import SegmentDataset
    from mtsed.features.logmel import Standardiser
    from mtsed.io.fileio import read_json

    manifest = read_json(features_dir / "manifest.json")
    fold = sorted(manifest["folds"])[0]
    standardiser = Standardiser.from_dict(read_json(features_dir / "stats.json")[fold])
    data = SegmentDataset(features_dir, targets_dir, manifest["folds"][fold]["train"], standardiser, FRAMES, 1)
    loader = DataLoader(data, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))
    started, count = time.perf_counter(), 0
    for x, _, _ in loader:
        count += x.shape[0]
        if count >= 2000:
            break
    return {"loader_segments_per_second": round(count / (time.perf_counter() - started), 1), "segments": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="64x64x8,256x256x4", help="comma-separated FxHxB")
    parser.add_argument(
        "--precisions",
        default="",
        help="comma-separated: fp32, bf16 (CPU), fp16 (CUDA); default fp32,bf16 on the CPU, fp16 on CUDA",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternations of before and now per configuration")
    parser.add_argument("--steps", type=int, default=0, help="timed steps per process (default: 20, 6 at F=256 on CPU)")
    parser.add_argument("--loader", nargs=2, metavar=("FEATURES", "TARGETS"), help="also time the DataLoader alone")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one measurement in this process
    parser.add_argument("--code", choices=["before", "now"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    precisions = args.precisions.split(",") if args.precisions else (["fp16"] if cuda else ["fp32", "bf16"])
    if args.one:
        f, h, b = (int(v) for v in args.one.split("x"))
        print(json.dumps(_measure(f, h, b, args.steps, precisions[0], args.code)))
        return
    device = torch.cuda.get_device_name() if cuda else cpu_name()
    print(f"# {device}; torch {torch.__version__}; {args.rounds} rounds, medians")
    print(
        "| F=H | batch | precision | params | train GFLOP/segment | before: segments/s | now: segments/s | speed-up "
        "| now: GFLOP/s | before: peak MiB | now: peak MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for config in args.configs.split(","):
        f, h, b = (int(v) for v in config.split("x"))
        steps = args.steps or (6 if f >= 256 and not cuda else 20)
        for precision in precisions:
            runs: dict[str, list[dict]] = {"before": [], "now": []}
            for _ in range(args.rounds):
                for code in runs:
                    runs[code].append(_one(config, precision, code, steps))
            speed = {code: statistics.median(r["segments_per_second"] for r in rs) for code, rs in runs.items()}
            peak = {code: statistics.median(r["peak_mib"] for r in rs) for code, rs in runs.items()}
            first = runs["now"][0]
            print(
                f"| {f}/{h} | {b} | {precision} | {first['parameters']:,} | {first['train_gflop_per_segment']:.2f} "
                f"| {speed['before']:.1f} | {speed['now']:.1f} | x{speed['now'] / speed['before']:.2f} "
                f"| {speed['now'] * first['train_gflop_per_segment']:.0f} | {peak['before']:.0f} | {peak['now']:.0f} |",
                flush=True,
            )
    if args.loader:
        print(json.dumps(_loader_throughput(Path(args.loader[0]), Path(args.loader[1]), 8)))


if __name__ == "__main__":
    main()
