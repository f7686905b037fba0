"""Progress display for long loads: on a terminal, tqdm when it is
importable, otherwise a percentage line rewritten in place on stderr; when
stderr is not a terminal (logs, CI) just one line at the end."""

from __future__ import annotations

import sys
import time

try:  # Debian's python3-tqdm, when installed
    from tqdm import tqdm as _tqdm
except ImportError:  # pragma: no cover - depends on the machine
    _tqdm = None


class _Percent:
    """The few parts of tqdm's interface that gvbench uses."""

    def __init__(self, total: int, desc: str, unit: str):
        self.total = max(int(total), 1)
        self.desc = desc
        self.unit = unit
        self.n = 0
        self.start = time.perf_counter()
        self.last_shown = -1
        self.tty = sys.stderr.isatty()

    def update(self, n: int = 1) -> None:
        self.n += n
        pct = int(100 * self.n / self.total)
        if self.tty and pct != self.last_shown:
            self.last_shown = pct
            sys.stderr.write(f"\r{self.desc}: {pct:3d}% ({self.n}/{self.total} {self.unit})")
            sys.stderr.flush()

    def close(self) -> None:
        secs = time.perf_counter() - self.start
        prefix = "\r" if self.tty else ""
        sys.stderr.write(f"{prefix}{self.desc}: 100% ({self.n}/{self.total} {self.unit}) in {secs:.1f} s\n")
        sys.stderr.flush()

    def __enter__(self) -> "_Percent":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(total: int, desc: str, unit: str = "rows"):
    """A context manager with .update(n): tqdm if available, else _Percent."""
    if _tqdm is not None and sys.stderr.isatty():
        return _tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=True)
    return _Percent(total, desc, unit)
