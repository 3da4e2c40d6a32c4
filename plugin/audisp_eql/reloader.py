"""A SIGHUP reload run beside the plugin's loop, so that stdin keeps draining.

Loading 10 000 rule files takes half a minute of pure Python (pyparsing);
done in the loop, it stopped the reads of stdin for as long and auditd's
queue overflowed. The configuration, the rules and the engine over them are
built in a worker thread instead: the loop keeps reading, evaluating with
the old rules, and takes the new set when it is complete (or keeps the old
one when it is not). Python's GIL is handed back to the loop at least every
switch interval (5 ms by default; shortened while a reload runs), so a
reload slows the loop down but never stops it.

The garbage collector would stop it: a full collection walks every object
(10 000 compiled rules are 4 million, 1.5 s). So the plugin's heap is frozen
(gc.freeze) once built, automatic collection is off while a reload runs, the
worker collects the young generations between rule files (parsing leaves
cycles behind, none of them long-lived), and the new set is frozen in turn
when it is taken. The rules and engines themselves hold no cycles: an old
set is freed by reference counting when it is replaced.

Compiled rules are closures: they cannot be built in another process and
sent back, which is why this is a thread and not a child process.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from typing import Any, Callable, Optional

# While a reload runs, the loop waits at most this long for the GIL after a
# read (Python's default, 5 ms, made each read of a busy input cost that much).
RELOAD_SWITCH_INTERVAL = 0.0005


class BackgroundReload:
    """Runs `build()` in a daemon thread; `result()` once `done`."""

    def __init__(self, build: Callable[[], Any], wake_fd: Optional[int] = None) -> None:
        self._build = build
        # Its own copy of the loop's wake-up pipe: the loop may close its end
        # (and the number be reused) before the thread is done.
        self._wake_fd = os.dup(wake_fd) if wake_fd is not None else None
        self._value: Any = None
        self._error: Optional[BaseException] = None
        self._done = threading.Event()
        self._saved_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._saved_interval, RELOAD_SWITCH_INTERVAL))
        self._collecting = gc.isenabled()
        gc.disable()
        self._thread = threading.Thread(target=self._run, name="audisp-eql-reload", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._build()
        except BaseException as exc:  # noqa: BLE001 - reported by the loop, old state kept
            self._error = exc
        finally:
            self._done.set()
            if self._wake_fd is not None:
                try:
                    os.write(self._wake_fd, b"r")   # the loop's select wakes now
                except OSError:
                    pass
                os.close(self._wake_fd)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def result(self) -> Any:
        """The built value, or the exception `build` raised (re-raised here)."""
        self._done.wait()
        sys.setswitchinterval(self._saved_interval)
        freeze_heap()
        if self._collecting:
            gc.enable()
        if self._error is not None:
            raise self._error
        return self._value


# Rule files between two collections of the young generations during a reload.
COLLECT_EVERY_FILES = 16


def collect_young(files_loaded: int) -> None:
    """Between rule files (-1: after the last): the young generations only,
    where parsing leaves its cycles. (Building the engine leaves none.)"""
    if files_loaded < 0 or files_loaded % COLLECT_EVERY_FILES == COLLECT_EVERY_FILES - 1:
        gc.collect(1)


def freeze_heap() -> None:
    """What is alive now (the rules, the engine) is out of every future
    collection. Not collected first: that walk alone stopped the loop for
    0.3 s after a 10 000-rule reload, and the worker collected already."""
    gc.freeze()
