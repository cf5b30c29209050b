"""Training one model on one fold: seeded, resumable, CUDA with mixed precision when present.

Checkpoints hold only tensors and plain containers (weights, optimiser state, RNG state,
history, a JSON config string), so they load with ``torch.load(weights_only=True)``.
``last.pt`` is written atomically after every epoch and ``best.pt`` whenever the checkpoint
criterion improves (``train.checkpoint``: the validation loss, the validation frame F1 of the
activity head, or simply the last epoch); a run that finds ``last.pt`` continues from it and ends
with the same weights as an uninterrupted run (each epoch's windows are a function of seed and epoch).
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

from mtsed.config.layout import CHECKPOINT_FILE, RESUME_FILE
from mtsed.config.training import TrainConfig
from mtsed.data.windows import SegmentDataset, WindowSampler
from mtsed.io.fileio import atomic_path
from mtsed.io.progress import interactive, progress
from mtsed.measures.distance_errors import is_error_metric
from mtsed.model.device import pick_device
from mtsed.model.losses import LossRecipe, multitask_loss
from mtsed.model.memory import reuse_freed_memory
from mtsed.model.network import CRNN, ModelSpec
from mtsed.model.tally import Tally


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


def batch_loss(
    model: CRNN,
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    recipe: LossRecipe,
    amp_dtype: torch.dtype | None,
    tally: Tally | None = None,
) -> torch.Tensor:
    """The multi-task (or baseline) loss of one batch, the forward pass under autocast when
    ``amp_dtype`` is given (losses are always computed in fp32); the batch is added to
    ``tally`` when given."""
    with torch.autocast(device_type=x.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        outputs = model(x)
    if tally is not None:
        tally.add(outputs, y, mask)
    return multitask_loss(outputs.float(), y, mask, recipe)["total"]


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


def _run_epoch(
    model: CRNN,
    loader: DataLoader,
    device: torch.device,
    recipe: LossRecipe,
    amp_dtype: torch.dtype | None,
    optimiser: torch.optim.Optimizer | None = None,
    scaler: torch.amp.GradScaler | None = None,
    scheduler: torch.optim.lr_scheduler.LambdaLR | None = None,
    desc: str = "",
    tally: Tally | None = None,
) -> float:
    """One pass over ``loader``: a training epoch with ``optimiser`` (and ``scaler``,
    ``scheduler`` where the run has them), else a validation pass that adds each batch to
    ``tally``; returns the mean loss per segment."""
    training = optimiser is not None
    model.train(training)
    total, count = 0.0, 0
    with torch.set_grad_enabled(training), reuse_freed_memory():
        # a live bar per epoch in a terminal; in a log, the epoch line of train_model is enough
        bar = progress(loader, desc=desc, unit="batch", leave=False, disable=not desc or not interactive())
        for x, y, mask in bar:
            loss = batch_loss(model, x.to(device), y.to(device), mask.to(device), recipe, amp_dtype, tally)
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


@dataclass
class _Run:
    """One training run's moving parts and its record so far."""

    model: CRNN
    optimiser: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR | None
    scaler: torch.amp.GradScaler | None
    config: str  # the run's JSON config: a checkpoint resumes only a run with the same one
    history: dict[str, list[float]]
    start_epoch: int = 0
    best: float = -math.inf  # the best checkpoint_score so far


def _start(
    spec: ModelSpec, cfg: TrainConfig, epochs: int, train_windows: WindowSampler, device: torch.device, config: str
) -> _Run:
    """A fresh run: the network (channels-last: faster on the CPU, RESULTS.md), Adam, the
    learning-rate schedule over all of the run's steps, a GradScaler on CUDA."""
    torch.manual_seed(cfg.seed)
    model = CRNN(spec).to(device, memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    scheduler = None
    if cfg.lr_schedule != "constant" or cfg.warmup > 0:
        total = epochs * math.ceil(len(train_windows.epoch(0)) / cfg.batch_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda step: learning_rate_factor(step, total, cfg.lr_schedule, cfg.warmup)
        )
    scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" else None
    history: dict[str, list[float]] = {
        "train_loss": [],
        "validation_loss": [],
        "validation_frame_f1": [],
        "train_seconds": [],
    }
    return _Run(model, optimiser, scheduler, scaler, config, history)


def _resume(run: _Run, last_path: Path) -> bool:
    """Continue ``run`` from ``last_path`` if it holds a run of the same config."""
    state = _resumable_state(last_path, run.config)
    if state is None:
        return False
    run.model.load_state_dict(state["model"])
    run.optimiser.load_state_dict(state["optimiser"])
    if run.scheduler is not None:
        run.scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    run.history = {k: list(v) for k, v in state["history"].items()}
    run.start_epoch, run.best = int(state["epoch"]), float(state["best"])
    return True


def _save_epoch(run: _Run, epoch: int, checkpoint: str, out_dir: Path, keep_epochs: bool) -> bool:
    """``last.pt`` (and ``epoch-K.pt`` when kept) after an epoch, ``best.pt`` when it is the
    best by ``checkpoint``; returns whether it was."""
    weights = {k: v.detach().cpu() for k, v in run.model.state_dict().items()}
    if keep_epochs:
        _save(out_dir / f"epoch-{epoch + 1}.pt", {"model": weights, "config": run.config, "epoch": epoch + 1})
    score = checkpoint_score(run.history, epoch, checkpoint)
    improved = score > run.best
    if improved:
        run.best = score
        _save(out_dir / CHECKPOINT_FILE, {"model": weights, "config": run.config, "epoch": epoch + 1})
    _save(
        out_dir / RESUME_FILE,
        {
            "model": weights,
            "optimiser": run.optimiser.state_dict(),
            "rng": torch.get_rng_state(),
            "scheduler": run.scheduler.state_dict() if run.scheduler is not None else {},
            "history": run.history,
            "epoch": epoch + 1,
            "best": run.best,
            "config": run.config,
        },
    )
    return improved


def _epoch(
    run: _Run,
    cfg: TrainConfig,
    train_data: SegmentDataset,
    validation: DataLoader,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    desc: str,
) -> dict[str, float]:
    """Train on one epoch's windows, validate, and append the epoch to the run's history."""
    recipe = LossRecipe.of(cfg, run.model.spec.network, run.model.spec.distances)
    loader = DataLoader(train_data, cfg.batch_size, shuffle=False, num_workers=cfg.num_workers)
    started = time.perf_counter()
    train_loss = _run_epoch(
        run.model, loader, device, recipe, amp_dtype, run.optimiser, run.scaler, run.scheduler, desc=desc
    )
    seconds = time.perf_counter() - started
    tally = Tally(run.model.spec.distances)
    val_loss = _run_epoch(run.model, validation, device, recipe, amp_dtype, tally=tally)
    record = {
        "train_loss": train_loss,
        "validation_loss": val_loss,
        "train_seconds": seconds,
        "validation_frame_f1": tally.frame_f1(),
        **tally.median_abs_errors("validation"),
    }
    for key, value in record.items():
        run.history.setdefault(key, []).append(value)
    return {**record, "segments_per_second": len(train_data) / max(seconds, 1e-9)}


def tally_windows(spec: ModelSpec, weights: dict, data: SegmentDataset, batch_size: int) -> Tally:
    """:class:`~mtsed.model.tally.Tally` of a network with ``weights`` over ``data`` in eval mode
    (no dropout), e.g. a finished run's best checkpoint on its own training recordings."""
    device = pick_device()
    model = CRNN(spec).to(device)
    model.load_state_dict(weights)
    model.eval()
    tally = Tally(spec.distances)
    with torch.no_grad():
        for x, y, mask in DataLoader(data, batch_size=batch_size):
            tally.add(model(x.to(device)), y, mask)
    return tally


def train_model(
    spec: ModelSpec,
    cfg: TrainConfig,
    epochs: int,
    train_windows: WindowSampler,
    validation_data: SegmentDataset,
    out_dir: Path,
    extra_config: dict | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    stop_after: int | None = None,
    name: str = "",
    keep_epochs: bool = False,
) -> dict:
    """Train ``epochs`` epochs of ``cfg``'s recipe on each epoch's windows, validating each
    epoch; returns the history. ``stop_after`` ends the run early after that many epochs (used
    to test resuming); ``name`` (e.g. ``fold 0 of proposed``) is what resume and interrupt
    messages call the run; ``keep_epochs`` also keeps every epoch's weights as ``epoch-K.pt``."""
    device = pick_device()
    config = json.dumps({"model": asdict(spec), "train": asdict(cfg), "epochs": epochs, **(extra_config or {})})
    run = _start(spec, cfg, epochs, train_windows, device, config)
    last_path = out_dir / RESUME_FILE
    if _resume(run, last_path):
        print(
            f"resuming {name or out_dir} at epoch {run.start_epoch + 1}/{epochs} ({last_path})",
            file=sys.stderr,
            flush=True,
        )
    validation = DataLoader(validation_data, batch_size=cfg.batch_size, num_workers=cfg.num_workers)
    amp_dtype = autocast_dtype(device, cfg.cpu_precision)
    try:
        for epoch in range(run.start_epoch, epochs):
            desc = f"epoch {epoch + 1}/{epochs}"
            figures = _epoch(run, cfg, train_windows.epoch(epoch), validation, device, amp_dtype, desc)
            best = _save_epoch(run, epoch, cfg.checkpoint, out_dir, keep_epochs)
            print(
                f"{desc}: train loss {figures['train_loss']:.4f}, validation loss {figures['validation_loss']:.4f}, "
                f"frame F1 {figures['validation_frame_f1']:.3f}{' (best)' if best else ''}, "
                f"{figures['train_seconds']:.0f} s "
                f"({figures['segments_per_second']:.1f} segments/s)",
                file=sys.stderr,
                flush=True,
            )
            if on_epoch is not None:
                shown = ("train_loss", "validation_loss", "validation_frame_f1", "segments_per_second")
                on_epoch(
                    epoch + 1,
                    {k: v for k, v in figures.items() if k in shown or is_error_metric(k)},
                )
            if stop_after is not None and epoch + 1 - run.start_epoch >= stop_after:
                break
    except KeyboardInterrupt:
        saved = int(load_checkpoint(last_path)["epoch"]) if last_path.is_file() else 0
        where = f"last saved epoch {saved}/{epochs} in {last_path}" if saved else "no epoch saved yet"
        raise TrainingInterrupted(f"{name or out_dir}: stopped during training; {where}; rerun to resume") from None
    return run.history
