"""Progress on stderr for the management commands, redrawn in place."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """``[#####.....] 50/100`` when the total is known; a running count (``  31 members published``)
    when it is not (``total=None``, with ``label``)."""

    def __init__(self, total: int | None, stream=None, width: int = 40, label: str = "") -> None:
        self.total, self.done, self.width, self.label = total, 0, width, label
        self.stream = stream or sys.stderr
        self._last = 0.0

    def step(self, *_args, n: int = 1) -> None:
        """Count ``n`` more done; takes and ignores a callback's arguments (``on_outcome=bar.step``)."""
        self.done += n
        now = time.monotonic()
        if self.done == self.total or now - self._last > 0.1:
            self._last = now
            self.stream.write(f"\r{self._text()}")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()

    def close(self) -> None:
        """End a running count: its last figure, then a new line."""
        self.stream.write(f"\r{self._text()}\n")
        self.stream.flush()

    def _text(self) -> str:
        if self.total is None:
            return f"  {self.done} {self.label}"
        filled = self.width * self.done // max(self.total, 1)
        return f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}"
