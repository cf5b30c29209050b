"""Inference throughput of the CRNN: eager fp32 against channels-last, bf16/fp16 autocast,
``torch.compile``, over batch sizes, on whatever device is present; and, side by side, the
CRNN's BiGRU as ``nn.GRU`` ran it before issue 30 (column GRU: ``nn.GRU``) and as
``mtsed.model.gru`` runs it on the CPU now (``mtsed``).

    python benchmarks/inference_speed.py                       # CPU default and paper sizes
    python benchmarks/inference_speed.py --sizes 64 --batches 8 16 32 64
    python benchmarks/inference_speed.py --events bundles/overlapping/proposed/bundle.pt data/overlapping

Prints one Markdown row per configuration: segments/s (one segment = T = 512 frames =
10.24 s of audio), the real-time factor that gives for one fold network, the compile time
where there is one, and how far the outputs are from eager fp32 on the same inputs
(largest absolute difference over the activity and distance outputs, all in [0, 1]).
``--events`` instead compares the events of a bundle at bf16 with its events at fp32 on a
data set's evaluation recordings: identical lists, and the event F1 of one against the other.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import torch

from mtsed.config import load_params
from mtsed.model.network import CRNN, ModelSpec

FRAMES, BANDS, CLASSES = 512, 40, 8
SEGMENT_SECONDS = FRAMES * 882 / 44100


def _run(model: torch.nn.Module, x: torch.Tensor, precision: str, device: torch.device) -> torch.Tensor:
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    context = torch.autocast(device.type, dtype=dtype) if dtype else nullcontext()
    with torch.no_grad(), context:
        out = model(x).float()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out


def measure(
    size: int,
    batch: int,
    precision: str,
    channels_last: bool,
    compiled: bool,
    seconds: float,
    device: torch.device,
    torch_gru: bool = False,
) -> str:
    torch.manual_seed(0)
    reference = (
        CRNN(ModelSpec.of(replace(load_params().model, filters=size, hidden=size), CLASSES, BANDS, "proposed"))
        .to(device)
        .eval()
    )
    model = CRNN(reference.spec).to(device).eval()
    model.load_state_dict(reference.state_dict())
    if torch_gru:
        model.gru.__class__ = torch.nn.GRU  # the same parameters, run as before issue 30
    x = torch.randn(batch, FRAMES, BANDS, device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    compile_seconds = 0.0
    if compiled:
        model = torch.compile(model)
        started = time.perf_counter()
        _run(model, x, precision, device)
        compile_seconds = time.perf_counter() - started
    _run(model, x, precision, device)  # warm-up
    expected = _run(reference, x, "fp32", device)
    got = _run(model, x, precision, device)
    difference = float((got - expected).abs().max())
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or runs < 2:
        _run(model, x, precision, device)
        runs += 1
    rate = runs * batch / (time.perf_counter() - started)
    layout = "channels-last" if channels_last else "default"
    return (
        f"| {device.type} | {size} | {batch} | {'nn.GRU' if torch_gru else 'mtsed'} | {precision} | {layout} | "
        f"{'yes' if compiled else 'no'} | {rate:.1f} | {rate * SEGMENT_SECONDS:.0f}x | {compile_seconds:.0f} | "
        f"{difference:.1e} |"
    )


def compare_events(bundle_path: Path, data: Path) -> None:
    """Events at bf16 against events at fp32 on the evaluation split (fp32 as reference)."""
    from dataclasses import replace

    from mtsed.data.datasets import load_dataset
    from mtsed.detection.bundle import load_bundle
    from mtsed.evaluation.metrics import evaluate_events

    bundle, dataset = load_bundle(bundle_path), load_dataset(data)
    found: dict[str, dict] = {"fp32": {}, "bf16": {}}
    for precision in found:
        variant = replace(bundle, precision=precision)
        for recording in dataset.evaluation():
            found[precision][recording.id] = variant.detect(dataset.audio_path(recording), recording.id)[0]
    same = sum(found["fp32"][k] == found["bf16"][k] for k in found["fp32"])
    scores = evaluate_events(found["fp32"], found["bf16"], bundle.labels)
    events = sum(len(v) for v in found["fp32"].values())
    print(
        f"| {data.name} | {bundle.system} | {len(found['fp32'])} | {same} | {events} | "
        f"{sum(len(v) for v in found['bf16'].values())} | {100 * scores['overall']['f1']:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[64, 256], help="F = H")
    parser.add_argument("--batches", type=int, nargs="*", default=[16, 64])
    parser.add_argument("--seconds", type=float, default=8.0, help="timed seconds per configuration")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--events", nargs=2, type=Path, metavar=("BUNDLE", "DATA"), help="compare bf16 and fp32 events")
    args = parser.parse_args()
    if args.events:
        compare_events(*args.events)
        return
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    low = "fp16" if device.type == "cuda" else "bf16"
    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"device: {name}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        "| device | F=H | batch | GRU | precision | layout | compiled | segments/s | x real time | compile s | max "
        "abs diff vs fp32 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for batch in args.batches:
            configs = [
                ("fp32", True, False, True),
                ("fp32", True, False, False),
                (low, True, False, True),
                (low, True, False, False),
            ]
            if not args.no_compile:
                configs += [("fp32", True, True, False), (low, True, True, False)]
            for precision, channels_last, compiled, torch_gru in configs:
                print(
                    measure(size, batch, precision, channels_last, compiled, args.seconds, device, torch_gru),
                    flush=True,
                )


if __name__ == "__main__":
    sys.exit(main())
