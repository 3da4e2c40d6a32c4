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

The loop takes the result whole or not at all (`PluginReload`, the reload's
half of daemon.py's `Plugin`): a configuration or rule set with errors keeps
the running one; outputs are built anew only when their settings changed, and
the sink they replace delivers what it holds (bounded) before it is closed.
"""

from __future__ import annotations

import gc
import os
import sys
import syslog
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from .config import Config, ConfigError, load_config
from .configured_outputs import build_outputs, outputs_config
from .detector import Detector
from .diagnostics import Diagnostics
from .outputs import AlertSink, RateLimiter, TlsSettings

if TYPE_CHECKING:
    import ssl

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


def pipeline_options(cfg: Config) -> Any:
    """The live pipeline's options from the configuration: the plugin's start
    (daemon.py) and a reload that changes the builders' settings."""
    from .pipeline import PipelineOptions
    return PipelineOptions(parser=cfg.parser, event_timeout=cfg.event_timeout,
                           action=cfg.event_action, parent_from_proc=cfg.parent_from_proc,
                           shard=cfg.shard, live=True, env_vars=tuple(cfg.env_vars),
                           env_vars_from_rules=cfg.env_vars_from_rules)


def _builder_settings(cfg: Config) -> tuple:
    """What the ECS builders are made with: a change rebuilds them (and empties
    the process table)."""
    return (cfg.event_action, cfg.parent_from_proc, tuple(cfg.env_vars),
            cfg.env_vars_from_rules)


class PluginReload:
    """The SIGHUP reload of the running plugin: the part of `Plugin` (daemon.py)
    that starts one beside the loop, takes its result or keeps the old set, and
    closes the sinks it replaced. `Plugin.__init__` sets what is declared here."""

    cfg: Config
    detector: Detector
    diag: Diagnostics
    sink: AlertSink
    retiring: List[AlertSink]
    tls_contexts: Dict[TlsSettings, ssl.SSLContext]
    pipeline: Any
    reloading: Optional[BackgroundReload]
    wake_fd: Optional[int]
    on_parse_error: Callable[[Any], None]

    def reload(self) -> None:
        """Reload now, in this thread (tests; the loop uses `start_reload`)."""
        self.start_reload()
        self.finish_reload()

    def start_reload(self) -> None:
        path = self.cfg.path
        # The TLS files the running outputs hold already (a copy: the loop owns the dict).
        tls_loaded = tuple(self.tls_contexts)

        def build() -> tuple:
            cfg = load_config(path, tls_loaded=tls_loaded)
            return cfg, Detector(cfg, between_files=collect_young)
        self.reloading = BackgroundReload(build, self.wake_fd)

    def finish_reload(self) -> None:
        """Take the reload's result: the new configuration and rules when they
        are good, else the old ones kept (whatever went wrong, said why)."""
        pending, self.reloading = self.reloading, None
        assert pending is not None
        try:
            cfg, detector = pending.result()
            self._apply(cfg, detector)
        except ConfigError as exc:
            self.sink.reopen()   # SIGHUP after log rotation: reopen whatever the config says
            self.diag.log(syslog.LOG_ERR, f"reload failed, keeping the old configuration: {exc}")
        except Exception as exc:  # noqa: BLE001 - a reload must never end the plugin
            self.sink.reopen()
            self.diag.log(syslog.LOG_ERR, "reload failed, keeping the old configuration and "
                                          f"rules: {type(exc).__name__}: {exc}")

    def _apply(self, cfg: Config, detector: "Detector") -> None:
        if detector.problems:
            self.sink.reopen()
            self.diag.log(syslog.LOG_ERR, "reload failed, keeping the old rules and exceptions: "
                          + "; ".join(detector.problems[:5])
                          + (f" (and {len(detector.problems) - 5} more)"
                             if len(detector.problems) > 5 else ""))
            return
        if outputs_config(cfg) != outputs_config(self.cfg):
            wanted = {r.tls() for r in cfg.remotes} - {None}
            contexts = {k: v for k, v in self.tls_contexts.items() if k in wanted}
            try:
                outputs = build_outputs(cfg, contexts)
            except (OSError, ValueError) as exc:
                # After a privilege drop a root-only file cannot be opened again.
                self.sink.reopen()
                self.diag.log(syslog.LOG_ERR, f"reload failed, keeping the old outputs: {exc}")
                return
            self.sink.start_close()
            self.retiring.append(self.sink)
            self.sink = AlertSink(outputs, RateLimiter(cfg.burst, cfg.burst_interval))
            self.tls_contexts = contexts
        else:
            self.sink.reopen()
            self.sink.limiter.burst, self.sink.limiter.interval = cfg.burst, cfg.burst_interval
        if _builder_settings(cfg) != _builder_settings(self.cfg):
            from .pipeline import build_builders
            self.pipeline.options = pipeline_options(cfg)
            self.pipeline.builders = build_builders(self.pipeline.options)
        if cfg.shard != self.cfg.shard:
            # Other nodes from now on: what is pending is evaluated first.
            from .source import make_event_source
            self.pipeline.replace_source(make_event_source(
                self.cfg.parser, timeout=self.cfg.event_timeout,
                on_error=self.on_parse_error, shard=cfg.shard))
        if detector.suppressor is not None:
            detector.suppressor.inherit_counts(self.detector.suppressor)
        self.cfg, self.detector = cfg, detector
        self.pipeline.set_engine(detector.engine, detector.ruleset.rules)
        self.pipeline.exceptions = detector.suppressor
        self.diag.log(syslog.LOG_INFO, f"reloaded {cfg.path}: {detector.loaded_text()}")

    def retire(self, wait: bool = False) -> None:
        """Close the sinks a reload replaced once they are done delivering (or,
        with `wait`, now: at exit, within their bound); say what they lost."""
        for sink in list(self.retiring):
            if not (wait or sink.closing_done()):
                continue
            self.retiring.remove(sink)
            before = sink.dropped()
            sink.close()
            for priority, text in sink.notices():
                self.diag.log(priority, text)
            lost = sink.dropped() - before
            if lost:
                self.diag.log(syslog.LOG_WARNING, f"{lost} alert(s) to outputs replaced by the "
                              f"reload could not be delivered: {'; '.join(sink.errors())}")
