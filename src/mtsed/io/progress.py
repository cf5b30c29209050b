"""Progress that reads well both in a terminal and in a log.

In a terminal, tqdm's live bars.  When stderr is not a terminal (``dvc repro``, CI,
Kubeflow pods) a carriage-return bar leaves one update per step in the log, so
:class:`LogProgress` prints one plain line per tenth of the work instead, with the same
figures (count, percentage, elapsed time, rate, postfix).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from tqdm import tqdm

LOG_STEPS = 10  # lines per stage when not in a terminal


def interactive() -> bool:
    """Whether progress goes to a terminal (live bars) rather than a log (plain lines)."""
    return sys.stderr.isatty()


class LogProgress:
    """The part of tqdm's interface the stages use, writing one line per ``1/steps`` of
    ``total`` (and a last line on close) instead of redrawing a bar."""

    def __init__(
        self,
        iterable: Iterable | None = None,
        total: float | None = None,
        desc: str = "",
        unit: str = "it",
        steps: int = LOG_STEPS,
        file: TextIO | None = None,
    ) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit, self.steps = total, desc, unit, steps
        self.file = file
        self.n: float = 0
        self.postfix: dict[str, Any] = {}
        self.started = time.perf_counter()
        self.next_mark = 1
        self.last_printed: float | None = None

    def __iter__(self) -> Iterator:
        for item in self.iterable or ():
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        if self.total:
            mark = int(self.steps * self.n / self.total)
            if mark >= self.next_mark:
                self.next_mark = mark + 1
                self._print()

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        self.postfix = values

    def line(self) -> str:
        """``desc: n/total unit (pct %), elapsed, rate, postfix``."""
        elapsed = time.perf_counter() - self.started
        count = f"{self.n:g}/{self.total:g} {self.unit}" if self.total else f"{self.n:g} {self.unit}"
        percent = f" ({100 * self.n / self.total:.0f} %)" if self.total else ""
        rate = f", {self.n / elapsed:.2f} {self.unit}/s" if elapsed > 0 and self.n else ""
        extra = "".join(f", {k}={v}" for k, v in self.postfix.items())
        return f"{self.desc}: {count}{percent}, {elapsed:.0f} s{rate}{extra}"

    def _print(self) -> None:
        self.last_printed = self.n
        print(self.line(), file=self.file or sys.stderr, flush=True)

    def close(self) -> None:
        if self.last_printed != self.n and (self.n or not self.total):
            self._print()

    @staticmethod
    def write(message: str, file: TextIO | None = None) -> None:
        print(message, file=file or sys.stdout, flush=True)


def progress(
    iterable: Iterable | None = None,
    *,
    total: float | None = None,
    desc: str = "",
    unit: str = "it",
    leave: bool = True,
    disable: bool = False,
    **bar_options: Any,
) -> tqdm | LogProgress:
    """A live tqdm bar in a terminal, :class:`LogProgress` lines otherwise; ``disable``
    silences both (a disabled tqdm still passes items through and writes messages)."""
    if disable:
        return tqdm(iterable, total=total, disable=True)
    if interactive():
        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, **bar_options)
    return LogProgress(iterable, total, desc, unit)
