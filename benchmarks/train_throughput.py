"""Training throughput (segments/s), peak memory and analytic FLOPs of the CRNN.

Each configuration runs in its own process so that peak memory is its own.  Prints one
Markdown table row per configuration (paste into RESULTS.md with the machine and date):

    python benchmarks/train_throughput.py                   # paper config and CPU default
    python benchmarks/train_throughput.py --precision bf16  # CPU bf16 autocast
    python benchmarks/train_throughput.py --loader features/overlapping targets/overlapping

On CUDA the step runs under fp16 autocast with a GradScaler, as training does.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from mtsed.config import load_params
from mtsed.model.network import CRNN, ModelSpec, count_parameters, forward_flops
from mtsed.model.training import batch_loss, optimiser_step

FRAMES = 512
CLASSES = 8  # as the default overlapping set


def _measure(filters: int, hidden: int, batch: int, steps: int, precision: str, channels_last: bool) -> dict:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    spec = ModelSpec(n_classes=CLASSES, filters=filters, hidden=hidden)
    model = CRNN(spec).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" and precision == "fp16" else None
    x = torch.randn(batch, FRAMES, 40, device=device)
    y = torch.rand(batch, FRAMES, 3 * CLASSES, device=device).round()
    mask = torch.ones(batch, FRAMES, device=device)

    def step() -> None:
        optimiser_step(batch_loss(model, x, y, mask, "proposed", dtype), optimiser, scaler)

    for _ in range(2):  # warm-up: allocator, kernels selection
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    train_flops = 3 * forward_flops(spec, FRAMES)
    per_second = steps * batch / seconds
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu x{torch.get_num_threads()}",
        "filters": filters, "hidden": hidden, "batch": batch, "precision": precision, "channels_last": channels_last,
        "parameters": count_parameters(model), "train_gflop_per_segment": round(train_flops / 1e9, 2),
        "segments_per_second": round(per_second, 2), "achieved_gflops": round(per_second * train_flops / 1e9, 1),
        "peak_memory_mib": round(peak / 2**20), "realtime_factor": round(per_second * FRAMES * 0.02, 1),
    }


def _loader_throughput(features_dir: Path, targets_dir: Path, batch: int) -> dict:
    """Segments/s the DataLoader delivers from memory-mapped features (no model)."""
    from torch.utils.data import DataLoader

    from mtsed.features.logmel import Standardiser
    from mtsed.io.fileio import read_json
    from mtsed.data.windows import SegmentDataset

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
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], help="default: fp32 on CPU, fp16 on CUDA")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--steps", type=int, default=0, help="timed steps (default: about 30 s per configuration)")
    parser.add_argument("--configs", default="", help="comma-separated FxHxB, e.g. 256x256x4,64x64x8")
    parser.add_argument("--loader", nargs=2, metavar=("FEATURES", "TARGETS"), help="also time the DataLoader alone")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one config in this process
    args = parser.parse_args()
    precision = args.precision or ("fp16" if torch.cuda.is_available() else "fp32")
    if args.one:
        f, h, b, steps = (int(v) for v in args.one.split("x"))
        print(json.dumps(_measure(f, h, b, steps, precision, args.channels_last)))
        return
    model = load_params().model
    configs = args.configs.split(",") if args.configs else ["256x256x4", f"{model.filters}x{model.hidden}x8"]
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, torch {torch.__version__}")
    print("| device | F=H | batch | precision | params | train GFLOP/segment | segments/s | GFLOP/s | peak MiB | x real time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for config in configs:
        f, h, b = (int(v) for v in config.split("x"))
        steps = args.steps or (4 if f >= 256 and not torch.cuda.is_available() else 40)
        command = [sys.executable, __file__, "--one", f"{f}x{h}x{b}x{steps}", "--precision", precision]
        if args.channels_last:
            command.append("--channels-last")
        r = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        layout = " channels-last" if r["channels_last"] else ""
        print(f"| {r['device']} | {f}/{h} | {b} | {r['precision']}{layout} | {r['parameters']:,} | {r['train_gflop_per_segment']} "
              f"| {r['segments_per_second']} | {r['achieved_gflops']} | {r['peak_memory_mib']} | {r['realtime_factor']} |")
    if args.loader:
        print(json.dumps(_loader_throughput(Path(args.loader[0]), Path(args.loader[1]), 8)))


if __name__ == "__main__":
    main()
