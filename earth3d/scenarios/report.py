"""Progress and timings of long scenario runs: stages, per-frame progress bars and result lines.

Library functions that take minutes (building a nested store, rendering a flythrough) take a
`Report`; the default one is silent. The command line hands in one that prints.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


class Report:
    """Per-stage timings and progress bars (tqdm, with ETA) on stderr; result lines on stdout.

    Args:
        quiet: print nothing (timings are still recorded).

    Example:
        >>> report = Report(quiet=True)
        >>> with report.stage("work"):
        ...     pass
        >>> [name for name, _ in report.timings]
        ['work']
    """

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.timings: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed work as stage `name` (printed before and after unless quiet)."""
        if not self.quiet:
            print(f"{name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.timings.append((name, seconds))
        if not self.quiet:
            print(f"{name}: {seconds:.1f} s", file=sys.stderr, flush=True)

    def progress(self, iterable: Iterable[T], total: int | None = None, desc: str = "") -> Iterable[T]:
        """`iterable` wrapped in a progress bar of frames on stderr (none when quiet)."""
        if self.quiet:
            return iterable
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit="frame", file=sys.stderr, dynamic_ncols=True,
                    leave=False)

    def say(self, line: str) -> None:
        """A result line on stdout: where the outputs are, what they hold."""
        if not self.quiet:
            print(line, flush=True)

    def summary(self) -> None:
        """One line with every stage's time and the total."""
        if self.timings:
            total = sum(s for _, s in self.timings)
            parts = ", ".join(f"{name} {s:.1f} s" for name, s in self.timings)
            self.say(f"timings: {parts} (total {total:.1f} s)")
