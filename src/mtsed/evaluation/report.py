"""Tables shaped like the paper's Tables 1 and 2, and the figures people look at."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mtsed.io.events import Event
from mtsed.io.fileio import atomic_path


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _er(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def comparison_table(title: str, results: Mapping[str, dict], labels: Sequence[str]) -> str:
    """Markdown: per-class, class-average and overall event-based F1 (%) and ER per system."""
    systems = list(results)
    head = "| event class | " + " | ".join(f"{s} F1 (%) | {s} ER" for s in systems) + " |"
    rule = "|---|" + "---|---|" * len(systems)
    rows = [f"**{title}** (event-based, onset collar 200 ms, offset collar max(200 ms, 50 %))", "", head, rule]

    def row(name: str, pick) -> str:
        cells = [f"{_pct(pick(results[s])['f1'])} | {_er(pick(results[s])['er'])}" for s in systems]
        return f"| {name} | " + " | ".join(cells) + " |"

    rows += [row(label, lambda r, label=label: r["per_class"][label]) for label in labels]
    rows.append(row("**class average**", lambda r: r["class_average"]))
    rows.append(row("**overall**", lambda r: r["overall"]))
    return "\n".join(rows) + "\n"


def field_table(results: Mapping[str, dict], labels: Sequence[str]) -> str:
    """Markdown: segment-based F1 (%) and ER (1-s segments), and the threshold-free scores
    (best-threshold event F1 (%) and PSD-ROC AUC per class; PSDS1 and PSDS2) per system."""
    systems = list(results)
    head = (
        "| event class | "
        + " | ".join(f"{s} segment F1 (%) | {s} segment ER | {s} best F1 (%) | {s} PSD-ROC AUC" for s in systems)
        + " |"
    )
    rows = [
        "**Segment-based (1-s segments) and threshold-free scores** (best F1: event-based F1 at the class's best "
        "threshold on the frame scores; PSDS: DCASE task 4 scenarios 1 and 2)",
        "",
        head,
        "|---|" + "---|---|---|---|" * len(systems),
    ]

    def cells(system: str, label: str | None) -> str:
        seg, free = results[system]["segment_based"], results[system].get("threshold_free")
        if free is None:  # event lists only (``mtsed evaluate`` without ``--scores``)
            pick = seg["class_average"] if label is None else seg["per_class"][label]
            return f"{_pct(pick['f1'])} | {_er(pick['er'])} | - | -"
        if label is None:
            average = seg["class_average"]
            return f"{_pct(average['f1'])} | {_er(average['er'])} | {_pct(free['best_f1_class_average'])} | -"
        best = free["per_class"].get(label, {"best_f1": None, "psd_roc_auc": None})
        auc = "-" if best["psd_roc_auc"] is None else f"{best['psd_roc_auc']:.3f}"
        own = seg["per_class"][label]
        return f"{_pct(own['f1'])} | {_er(own['er'])} | {_pct(best['best_f1'])} | {auc}"

    rows += [f"| {label} | " + " | ".join(cells(s, label) for s in systems) + " |" for label in labels]
    rows.append("| **class average** | " + " | ".join(cells(s, None) for s in systems) + " |")
    rows.append(
        "| **overall** | "
        + " | ".join(
            f"{_pct(results[s]['segment_based']['overall']['f1'])} | "
            f"{_er(results[s]['segment_based']['overall']['er'])} | - | -"
            for s in systems
        )
        + " |"
    )
    for key, name in (("psds1", "PSDS1"), ("psds2", "PSDS2")):
        if all("threshold_free" in results[s] for s in systems):
            rows.append(
                f"| **{name}** | "
                + " | ".join(f"- | - | - | {_score(results[s]['threshold_free'][key])}" for s in systems)
                + " |"
            )
    return "\n".join(rows) + "\n"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _frames(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def study_tables(study: Mapping[str, dict], variants: Mapping[str, dict], decoders: Mapping[str, str]) -> str:
    """Markdown: searched vs fixed thresholds and the diagnostics per system and split, then
    the variant decoders of the proposed network (all on the evaluation split unless said)."""
    rows = [
        "**What explains the scores** (overall event-based F1 % / ER; frame F1 of the activity head; "
        "median distance-head error in frames on active frames)",
        "",
        "| system (decoder) | split | event F1 searched | ER searched | event F1 fixed | ER fixed | "
        "class-avg F1 searched | frame F1 | onset error | offset error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for system, splits in study.items():
        for split, r in splits.items():
            searched, fixed = r["searched"], r["fixed"]
            rows.append(
                f"| {system} ({decoders.get(system, '')}) | {split} | {_pct(searched['overall']['f1'])} | "
                f"{_er(searched['overall']['er'])} | {_pct(fixed['overall']['f1'])} | {_er(fixed['overall']['er'])} | "
                f"{_pct(searched['class_average']['f1'])} | {_pct(r['frame_f1'])} | "
                f"{_frames(r['onset_error_frames'])} | {_frames(r['offset_error_frames'])} |"
            )
    if variants:
        rows += [
            "",
            "**Other decoders of the proposed network** (evaluation split; thresholds searched on validation, or "
            "fixed; system multitask keeps, per class, the one with the best held-out validation F1: each group of "
            "validation recordings scored at the thresholds the others chose)",
            "",
            "| system:decoder | validation class-avg F1 (in-sample) | held-out | overall F1 searched | ER searched | "
            "class-avg F1 searched | overall F1 fixed | ER fixed |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, r in variants.items():
            rows.append(
                f"| {name} | {_pct(r.get('validation_class_average_f1'))} | "
                f"{_pct(r.get('held_out_class_average_f1'))} | "
                f"{_pct(r['searched']['overall']['f1'])} | "
                f"{_er(r['searched']['overall']['er'])} | {_pct(r['searched']['class_average']['f1'])} | "
                f"{_pct(r['fixed']['overall']['f1'])} | {_er(r['fixed']['overall']['er'])} |"
            )
    return "\n".join(rows) + "\n"


def distance_error_table(study: Mapping[str, dict]) -> str:
    """Markdown: the distance head's median absolute and signed error (frames) binned by true
    distance, per network and split (positive: the boundary is placed farther away than it is)."""
    from mtsed.config.systems import network_of
    from mtsed.measures.distance_errors import BAND_NAMES

    rows = [
        "**Where the distance head errs** (median absolute / signed error of p_hat*T and q_hat*T in frames on "
        "active frames, by true distance in frames; frames counted)",
        "",
        "| network | split | boundary | " + " | ".join(BAND_NAMES) + " |",
        "|---|---|---|" + "---|" * len(BAND_NAMES),
    ]
    for system, splits in study.items():
        if network_of(system) != system:  # the same network's figures, already shown
            continue
        for split, r in splits.items():
            binned = r.get("distance_errors")
            if not binned:
                continue
            for boundary in ("onset", "offset"):
                cells = [
                    f"{_frames(b.get('median_abs_error'))} / {_frames(b['median_signed_error'])} ({b['frames']})"
                    for b in binned[boundary].values()
                ]
                rows.append(f"| {system} | {split} | {boundary} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def miss_reason_table(misses: Mapping[str, Mapping[str, Mapping[str, int]]], labels: Sequence[str]) -> str:
    """Markdown: per system and class, how many reference events are hit or missed and why
    (evaluation split; not found / fragmented / onset outside the collar / offset only)."""
    from mtsed.evaluation.diagnostics import MISS_REASONS

    rows = [
        "**Why reference events are missed** (evaluation split, events per class: " + " / ".join(MISS_REASONS) + ")",
        "",
        "| class | " + " | ".join(misses) + " |",
        "|---|" + "---|" * len(misses),
    ]
    for label in [*labels, "all"]:
        cells = []
        for counts in misses.values():
            per = counts[label] if label != "all" else {k: sum(c[k] for c in counts.values()) for k in MISS_REASONS}
            cells.append(" / ".join(str(per[k]) for k in MISS_REASONS))
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def per_class_csv(results: Mapping[str, dict], labels: Sequence[str]) -> str:
    """One row per class: F1 and ER of every system."""

    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    rows = ["class," + ",".join(f"{s}_f1,{s}_er" for s in results)]
    for label in labels:
        rows.append(
            label
            + ","
            + ",".join(
                f"{cell(results[s]['per_class'][label]['f1'])},{cell(results[s]['per_class'][label]['er'])}"
                for s in results
            )
        )
    return "\n".join(rows) + "\n"


def _save(figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_detection(
    path: Path,
    log_mel: np.ndarray,
    scores: Mapping[str, np.ndarray],
    reference: Sequence[Event],
    labels: Sequence[str],
    frame_seconds: float,
    title: str,
) -> None:
    """Like the paper's Fig. 2: spectrogram, then per class each system's score over time,
    reference events shaded."""
    plt = _pyplot()
    figure, axes = plt.subplots(len(labels) + 1, 1, figsize=(12, 1.1 * len(labels) + 2.5), sharex=True)
    seconds = log_mel.shape[0] * frame_seconds
    axes[0].imshow(
        np.asarray(log_mel).T, origin="lower", aspect="auto", extent=(0, seconds, 0, log_mel.shape[1]), cmap="magma"
    )
    axes[0].set_ylabel("mel band")
    axes[0].set_title(title)
    t = np.arange(log_mel.shape[0]) * frame_seconds
    for c, (ax, label) in enumerate(zip(axes[1:], labels)):
        for event in reference:
            if event.label == label:
                ax.axvspan(event.onset, event.offset, color="tab:green", alpha=0.25, lw=0)
        for name, score in scores.items():
            ax.plot(t, score[:, c], lw=0.9, label=name)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    axes[1].legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("time (s); shaded: reference events")
    _save(figure, path)


def plot_f1_bars(path: Path, results: Mapping[str, dict], labels: Sequence[str], title: str) -> None:
    """Per-class event-based F1, one bar per system."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(max(6, 1.1 * len(labels) + 2), 3.5))
    width = 0.8 / max(len(results), 1)
    x = np.arange(len(labels) + 1)
    for i, (name, r) in enumerate(results.items()):
        values = [r["per_class"][label]["f1"] or 0.0 for label in labels] + [r["overall"]["f1"] or 0.0]
        ax.bar(x + i * width, np.array(values) * 100, width, label=name)
    ax.set_xticks(x + width * (len(results) - 1) / 2, [*labels, "overall"], rotation=30, ha="right")
    ax.set_ylabel("event-based F1 (%)")
    ax.set_title(title)
    ax.legend()
    _save(figure, path)


def plot_training_curves(path: Path, histories: Mapping[str, dict], title: str) -> None:
    """Training and validation loss per epoch of every fold model."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(7, 3.5))
    for name, history in histories.items():
        epochs = np.arange(1, len(history["train_loss"]) + 1)
        line = ax.plot(epochs, history["train_loss"], lw=1, label=f"{name} train")[0]
        ax.plot(epochs, history["validation_loss"], lw=1, ls="--", color=line.get_color(), label=f"{name} validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(fontsize=6, ncol=2)
    _save(figure, path)
