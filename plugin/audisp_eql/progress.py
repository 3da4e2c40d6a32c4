"""Progress on a terminal for `scan` and `report`: bytes read, percent, rate and
ETA (tqdm), on stderr only, and only when stderr is a terminal.

When the alerts go to the same terminal, each alert is written with the bar
cleared and redrawn after it (`between_lines`), so a progress line never
ends up inside an alert line. Sizes: plain files by their size; gzip files
by the uncompressed size their trailer records (modulo 4 GiB); stdin has
none (no percent, no ETA). The bar appears after a second (short runs print
nothing extra); AUDISP_EQL_PROGRESS_DELAY sets that delay in seconds.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, Optional, Sequence, TextIO

from .escape import safe_text


def input_size(path: str) -> Optional[int]:
    """Bytes `path` will give when read (None: unknown)."""
    if path == "-":
        return None
    try:
        size = os.path.getsize(path)
        if path.endswith(".gz") and size >= 18:
            with open(path, "rb") as f:
                f.seek(-4, os.SEEK_END)
                return int.from_bytes(f.read(4), "little")
        return size
    except OSError:
        return None


class Progress:
    """A tqdm bar over the bytes of the inputs; does nothing unless `stream` is a
    terminal (and tqdm is installed)."""

    def __init__(self, stream: Optional[TextIO], paths: Sequence[str], *,
                 unit: str = "B", delay: Optional[float] = None) -> None:
        self._bar = None
        if delay is None:
            try:
                delay = float(os.environ.get("AUDISP_EQL_PROGRESS_DELAY", "1"))
            except ValueError:
                delay = 1.0
        if stream is None or not stream.isatty():
            return
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - a dependency; progress is optional
            return
        sizes = [input_size(p) for p in paths]
        total = sum(s for s in sizes if s is not None) if all(s is not None for s in sizes) \
            else None
        first = safe_text(os.path.basename(paths[0]))[-40:] if paths else ""
        self._bar = tqdm(total=total, unit=unit, unit_scale=True, unit_divisor=1024,
                         file=stream, delay=delay, dynamic_ncols=True, leave=False,
                         mininterval=0.5, desc=first)

    @property
    def active(self) -> bool:
        return self._bar is not None

    def advance(self, name: str, nbytes: int) -> None:
        bar = self._bar
        if bar is None:
            return
        label = safe_text(os.path.basename(name))[-40:]
        if bar.desc != label:
            bar.set_description_str(label, refresh=True)   # a new file: say so at once
        bar.update(nbytes)

    def postfix(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    @contextlib.contextmanager
    def between_lines(self) -> Iterator[None]:
        """Write to the terminal with the bar out of the way."""
        if self._bar is None:
            yield
            return
        with self._bar.external_write_mode():
            yield

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
