"""Training one model on one fold: seeded, resumable, CUDA with mixed precision when present.

Checkpoints hold only tensors and plain containers (weights, optimiser state, RNG state,
history, a JSON config string), so they load with ``torch.load(weights_only=True)``.
``last.pt`` is written atomically after every epoch and ``best.pt`` whenever the
checkpoint criterion improves (``TrainSettings.checkpoint``: the validation loss, the
validation frame F1 of the activity head, or simply the last epoch); a run that finds ``last.pt`` continues from it and ends with the
same weights as an uninterrupted run (each epoch's windows are a function of seed and epoch).
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from mtsed.io.fileio import atomic_path
from mtsed.model.losses import multitask_loss
from mtsed.model.device import pick_device
from mtsed.model.memory import reuse_freed_memory
from mtsed.model.network import CRNN, ModelSpec
from mtsed.io.progress import interactive, progress
from mtsed.data.windows import SegmentDataset, WindowSampler


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings of one training run; ``loss_weights`` scale the classification,
    distance and confidence losses (the paper sums them: 1, 1, 1)."""

    epochs: int = 10
    batch_size: int = 4
    learning_rate: float = 1e-4
    seed: int = 0
    num_workers: int = 0
    loss_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    lr_schedule: str = "constant"  # or "cosine": decays to 0 over all steps of the run
    warmup: float = 0.0  # fraction of the run's steps over which the rate rises linearly from 0
    distance_loss: str = "squared"  # or "smooth-l1" (mtsed.model.losses)
    cpu_precision: str = "fp32"  # or "bf16": autocast on the CPU (CUDA always trains under fp16 autocast)
    checkpoint: str = "loss"  # best.pt: lowest validation "loss", highest validation "frame-f1", or "last"


CHECKPOINTS = ("loss", "frame-f1", "last")


def checkpoint_score(history: dict[str, list[float]], epoch: int, checkpoint: str) -> float:
    """How good epoch ``epoch`` (0-based) is by ``checkpoint``: higher is better."""
    if checkpoint == "loss":
        return -history["validation_loss"][epoch]
    if checkpoint == "frame-f1":
        return history["validation_frame_f1"][epoch]
    return float(epoch)


def chosen_epoch(history: dict[str, list[float]], checkpoint: str) -> int:
    """The 0-based epoch ``best.pt`` holds (the first of equals)."""
    return max(range(len(history["validation_loss"])), key=lambda e: (checkpoint_score(history, e, checkpoint), -e))


def activity_counts(outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Frame-level ``[true positives, false positives, false negatives]`` of the activity
    outputs (the first C columns) above 0.5 against the targets' y, over unmasked frames."""
    classes = targets.shape[-1] // 3
    estimated, reference = outputs[..., :classes] > 0.5, targets[..., :classes] > 0.5
    valid = mask.bool().unsqueeze(-1)
    return torch.stack([(estimated & reference & valid).sum(), (estimated & ~reference & valid).sum(),
                        (~estimated & reference & valid).sum()]).double()


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def autocast_dtype(device: torch.device, cpu_precision: str) -> torch.dtype | None:
    """The precision the forward pass runs in: fp16 on CUDA, else the CPU setting (None: fp32)."""
    return torch.float16 if device.type == "cuda" else PRECISIONS[cpu_precision]


def learning_rate_factor(step: int, total: int, schedule: str, warmup: float) -> float:
    """The learning rate's multiplier at ``step`` of ``total``: a linear warm-up over the
    first ``warmup`` fraction of steps, then constant or a cosine decay to 0 at the end."""
    warm = warmup * total
    if warm > 0 and step < warm:
        return (step + 1) / warm
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(step / max(total, 1), 1.0)))
    return 1.0


def batch_loss(model, x, y, mask, system: str, amp_dtype: torch.dtype | None = None,
               weights: tuple[float, float, float] = (1.0, 1.0, 1.0), distance_loss: str = "squared",
               counts: torch.Tensor | None = None) -> torch.Tensor:
    """The multi-task (or baseline) loss of one batch, the forward pass under autocast when
    ``amp_dtype`` is given (losses are always computed in fp32); :func:`activity_counts` are
    added to ``counts`` when given."""
    with torch.autocast(device_type=x.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        outputs = model(x)
    if counts is not None:
        counts += activity_counts(outputs.detach(), y, mask).to(counts.device)
    encoding = model.spec.distances if isinstance(model, CRNN) else "linear"
    return multitask_loss(outputs.float(), y, mask, system, weights, encoding, distance_loss)["total"]


def optimiser_step(loss: torch.Tensor, optimiser: torch.optim.Optimizer, scaler=None) -> None:
    """Backpropagate ``loss`` and update, through the GradScaler when mixed precision needs one."""
    optimiser.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
    else:
        loss.backward()
        optimiser.step()


def _run_epoch(model, loader, device, system, weights, optimiser=None, scaler=None, desc="", scheduler=None,
               distance_loss: str = "squared", amp_dtype: torch.dtype | None = None,
               counts: torch.Tensor | None = None) -> float:
    training = optimiser is not None
    model.train(training)
    total, count = 0.0, 0
    with torch.set_grad_enabled(training), reuse_freed_memory():
        # a live bar per epoch in a terminal; in a log, the epoch line of train_model is enough
        bar = progress(loader, desc=desc, unit="batch", leave=False, disable=not desc or not interactive())
        for x, y, mask in bar:
            loss = batch_loss(model, x.to(device), y.to(device), mask.to(device), system, amp_dtype, weights, distance_loss, counts)
            if training:
                optimiser_step(loss, optimiser, scaler)
                if scheduler is not None:
                    scheduler.step()
            total += loss.item() * x.shape[0]
            count += x.shape[0]
            bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
    return total / max(count, 1)


def _save(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict:
    """A checkpoint's contents (no pickled code is executed)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def _resumable_state(last_path: Path, config: str) -> dict | None:
    """The state in ``last_path`` if it belongs to a run with exactly this configuration."""
    if not last_path.is_file():
        return None
    try:
        state = load_checkpoint(last_path)
    except Exception as error:  # a corrupt or foreign file: start over rather than fail
        warnings.warn(f"{last_path}: cannot resume ({error}); training from scratch", stacklevel=3)
        return None
    if state.get("config") != config:
        warnings.warn(f"{last_path}: written with other settings; training from scratch", stacklevel=3)
        return None
    return state


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says where it stopped and that a rerun resumes."""


def train_model(
    spec: ModelSpec,
    settings: TrainSettings,
    train_windows: WindowSampler,
    validation_data: SegmentDataset,
    out_dir: Path,
    extra_config: dict | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    stop_after: int | None = None,
    name: str = "",
    keep_epochs: bool = False,
) -> dict:
    """Train on each epoch's windows, validating each epoch; returns the history.
    ``stop_after`` ends the run early after that many epochs (used to test resuming);
    ``keep_epochs`` also keeps every epoch's weights as ``epoch-K.pt`` (to compare checkpoints);
    ``name`` (e.g. ``fold 0 of proposed``) is what resume and interrupt messages call the run."""
    device = pick_device()
    torch.manual_seed(settings.seed)
    # channels-last convolutions: about 17 % faster on CPU (benchmarks/RESULTS.md)
    model = CRNN(spec).to(device, memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" else None
    scheduler = None
    if settings.lr_schedule != "constant" or settings.warmup > 0:
        total = settings.epochs * math.ceil(len(train_windows.epoch(0)) / settings.batch_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda step: learning_rate_factor(step, total, settings.lr_schedule, settings.warmup))
    config = json.dumps({"model": asdict(spec), "train": asdict(settings), **(extra_config or {})})
    history: dict[str, list[float]] = {"train_loss": [], "validation_loss": [], "validation_frame_f1": [], "train_seconds": []}
    start_epoch, best = 0, -float("inf")  # the best checkpoint_score so far
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    state = _resumable_state(last_path, config)
    if state is not None:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        history = {k: list(v) for k, v in state["history"].items()}
        start_epoch, best = int(state["epoch"]), float(state["best"])
        print(f"resuming {name or out_dir} at epoch {start_epoch + 1}/{settings.epochs} ({last_path})", file=sys.stderr, flush=True)
    validation = DataLoader(validation_data, batch_size=settings.batch_size, num_workers=settings.num_workers)
    amp_dtype = autocast_dtype(device, settings.cpu_precision)
    try:
        loss_weights = settings.loss_weights
        for epoch in range(start_epoch, settings.epochs):
            train_data = train_windows.epoch(epoch)
            loader = DataLoader(train_data, settings.batch_size, shuffle=False, num_workers=settings.num_workers)
            started = time.perf_counter()
            desc = f"epoch {epoch + 1}/{settings.epochs}"
            train_loss = _run_epoch(model, loader, device, spec.system, loss_weights, optimiser, scaler, desc=desc, scheduler=scheduler,
                                    distance_loss=settings.distance_loss, amp_dtype=amp_dtype)
            train_seconds = time.perf_counter() - started
            counts = torch.zeros(3, dtype=torch.float64)
            val_loss = _run_epoch(model, validation, device, spec.system, loss_weights, distance_loss=settings.distance_loss,
                                  amp_dtype=amp_dtype, counts=counts)
            true_positives, false_positives, false_negatives = counts.tolist()
            val_f1 = 2 * true_positives / max(2 * true_positives + false_positives + false_negatives, 1.0)
            for key, value in (("train_loss", train_loss), ("validation_loss", val_loss), ("validation_frame_f1", val_f1),
                               ("train_seconds", train_seconds)):
                history[key].append(value)
            weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            if keep_epochs:
                _save(out_dir / f"epoch-{epoch + 1}.pt", {"model": weights, "config": config, "epoch": epoch + 1})
            improved = checkpoint_score(history, epoch, settings.checkpoint) > best
            if improved:
                best = checkpoint_score(history, epoch, settings.checkpoint)
                _save(best_path, {"model": weights, "config": config, "epoch": epoch + 1})
            _save(last_path, {
                "model": weights, "optimiser": optimiser.state_dict(), "rng": torch.get_rng_state(),
                "scheduler": scheduler.state_dict() if scheduler is not None else {},
                "history": history, "epoch": epoch + 1, "best": best, "config": config,
            })
            speed = len(train_data) / max(train_seconds, 1e-9)
            print(f"{desc}: train loss {train_loss:.4f}, validation loss {val_loss:.4f}, frame F1 {val_f1:.3f}"
                  f"{' (best)' if improved else ''}, {train_seconds:.0f} s ({speed:.1f} segments/s)", file=sys.stderr, flush=True)
            if on_epoch is not None:
                on_epoch(epoch + 1, {"train_loss": train_loss, "validation_loss": val_loss, "validation_frame_f1": val_f1,
                                     "segments_per_second": speed})
            if stop_after is not None and epoch + 1 - start_epoch >= stop_after:
                break
    except KeyboardInterrupt:
        saved = int(load_checkpoint(last_path)["epoch"]) if last_path.is_file() else 0
        where = f"last saved epoch {saved}/{settings.epochs} in {last_path}" if saved else "no epoch saved yet"
        raise TrainingInterrupted(f"{name or out_dir}: stopped during training; {where}; rerun to resume") from None
    return history
