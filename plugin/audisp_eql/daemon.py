"""The auditd plugin loop: stdin -> the pipeline (pipeline.py) -> the alert sink.

auditd (3.x) starts a plugin with an empty environment, stdin a unix stream
socket, every signal ignored, and (after a restart) some signals blocked. The
loop therefore installs its handlers and unblocks them first, then reads stdin
without blocking so the dispatcher is never held up, ages incomplete events on
the wall clock, and never lets an output block it for long.

Signals: TERM/INT stop (pending events evaluated, outputs flushed, exit 0);
HUP reloads config, rules and exceptions (a broken new set keeps the old one
running; the new set is built beside the loop, reloader.py, so stdin keeps
draining); USR1 logs a status line now; USR2 reopens the outputs.
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import select
import signal
import syslog
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from . import exitstatus
from .config import Config, ConfigError, load_config
from .detector import Detector, exceptions_text
from .diagnostics import Diagnostics, LoggingBridge
from .configured_outputs import build_outputs
from .outputs import AlertSink, RateLimiter, TlsSettings
from .privileges import PrivilegeError, drop_privileges
from .reloader import BackgroundReload, PluginReload, freeze_heap, pipeline_options
from .wakeups import TICK_SECONDS, gather, output_due, timeout

if TYPE_CHECKING:
    import ssl

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
# auditd blocks these in a restarted plugin; all must be deliverable again.
UNBLOCK_SIGNALS = {signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2,
                   signal.SIGCHLD, signal.SIGCONT, signal.SIGINT}
READ_CHUNK = 1 << 16
READ_BUDGET = 1 << 20   # bytes per wake-up before outputs and ageing get a turn
# A read this small means a quiet stream: the next wake-up gathers first (wakeups.py).
SMALL_READ = 1 << 14


class Plugin(PluginReload):
    """The plugin: its loop, signals and status line here; what a SIGHUP
    reload does to it in `PluginReload` (reloader.py)."""

    def __init__(self, cfg: Config, diag: Diagnostics) -> None:
        from .pipeline import build_pipeline
        self.cfg = cfg
        self.diag = diag
        self.detector = Detector(cfg)
        self.parse_errors = 0
        # TLS certificates and keys, loaded once (as root, before a privilege drop).
        self.tls_contexts: Dict[TlsSettings, ssl.SSLContext] = {}
        self.sink = AlertSink(build_outputs(cfg, self.tls_contexts),
                              RateLimiter(cfg.burst, cfg.burst_interval))
        # Sinks a reload replaced, delivering what they hold (bounded) while the
        # loop goes on; closed and accounted for once they are done.
        self.retiring: List[AlertSink] = []
        self.pipeline = build_pipeline(pipeline_options(cfg), on_alert=self.emit,
                                       on_error=self.on_parse_error,
                                       on_build_error=self.on_build_error)
        self.pipeline.set_engine(self.detector.engine, self.detector.ruleset.rules)
        self.pipeline.exceptions = self.detector.suppressor
        if cfg.already_running and self.pipeline.builders is not None:
            # Processes that started before auditd: one document each, through the rules.
            from .ecs.running import running_documents
            self.pipeline.documents(running_documents(self.pipeline.builders.context))
        self.stop = False
        self.reload_requested = False
        self.reloading: Optional[BackgroundReload] = None
        self.wake_fd: Optional[int] = None
        self.status_requested = False
        self.reopen_requested = False
        self.last_read = 0
        self.next_status = time.monotonic() + cfg.status_interval if cfg.status_interval else None

    # -- the per-event path (the pipeline calls these) --------------------------------
    def emit(self, alert: dict) -> None:
        self.sink.emit(alert, time.monotonic())

    def on_build_error(self, event: Any, exc: Exception) -> None:
        # (One odd event must not stop the plugin: the pipeline skips it.)
        self.diag.log(syslog.LOG_ERR, f"event {getattr(event, 'event_id', '?')}: "
                                      f"cannot build ECS document: {exc!r}")

    def on_parse_error(self, error: Any) -> None:
        self.parse_errors += 1
        # The 1st, 10th, 100th... only: bad input is reported, never a log flood.
        if str(self.parse_errors).rstrip("0") == "1":
            self.diag.log(syslog.LOG_WARNING, f"bad input (#{self.parse_errors}): {error}")

    # -- signals -------------------------------------------------------------
    def on_signal(self, signum: int, _frame: Any) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stop = True
        elif signum == signal.SIGHUP:
            self.reload_requested = True
        elif signum == signal.SIGUSR1:
            self.status_requested = True
        elif signum == signal.SIGUSR2:
            self.reopen_requested = True

    def status_line(self) -> str:
        source = _stats_text(self.pipeline.source.stats if self.pipeline.source else None)
        counts = self.pipeline.count()
        engine = self.detector.engine.stats()
        outputs = " ".join(f"{o.name}={o.stats.sent}/{o.stats.dropped}" for o in self.sink.outputs)
        queued = " ".join(f"{name}={count}" for name, count in self.sink.queued())
        return (f"status: events={counts.events} documents={counts.documents} "
                f"parse_errors={self.parse_errors} build_errors={counts.build_errors} "
                f"malformed_values={counts.malformed_values} "
                f"alerts={self.sink.alerts} suppressed={self.sink.limiter.total_suppressed} "
                f"evicted_rate_windows={self.sink.limiter.evicted_windows} "
                f"dropped={self.sink.dropped()} rules={self.detector.rule_count} "
                + " ".join(f"{k}={v}" for k, v in engine.items())
                + exceptions_text(self.pipeline.counts.excepted, self.detector.suppressor)
                + (" " + " ".join(f"{k}={v}" for k, v in self.pipeline.builders.stats().items())
                   if self.pipeline.builders is not None else "")
                + (f" {source}" if source else "")
                + (f" nodes={self.pipeline.source.nodes()}"   # type: ignore[union-attr]
                   if hasattr(self.pipeline.source, "nodes") else "")
                + (f" sent/dropped: {outputs}" if outputs else "")
                + (f" queued: {queued}" if queued else ""))

    # -- the loop ------------------------------------------------------------
    def run(self, stdin_fd: int = 0) -> int:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake_fd = wake_w
        old_wakeup = signal.set_wakeup_fd(wake_w)
        os.set_blocking(stdin_fd, False)
        try:
            from .eql.lucene import ENGINE
            self.diag.log(syslog.LOG_INFO, f"started: {self.detector.loaded_text()} "
                          f"from {_paths_text(self.cfg.rule_paths + self.cfg.exception_paths)} "
                          f"(regex engine: {ENGINE}){self.cfg.shard.described()}")
            for report in self.detector.ruleset.invalid:
                self.diag.log(syslog.LOG_WARNING, f"rule not loaded: {report.reason}")
            for error in self.detector.exceptions.errors:
                self.diag.log(syslog.LOG_WARNING, f"exception not loaded: {error}")
            eof = False
            while not (eof or self.stop):
                now = time.monotonic()
                wait = timeout(self.due(now), now)
                readable, _, _ = select.select([stdin_fd, wake_r], [], [], wait)
                if wake_r in readable:
                    _drain(wake_r)
                if stdin_fd in readable:
                    if self.last_read < SMALL_READ:
                        gather(stdin_fd, lambda: self.stop)
                    eof = self.read_input(stdin_fd)
                self.housekeeping()
            # EOF or SIGTERM: what is still pending is evaluated, then flushed;
            # records auditd already wrote to the socket count as pending.
            if not eof:
                self.read_input(stdin_fd)
            self.pipeline.flush()
            self.diag.log(syslog.LOG_INFO, ("end of input; " if eof else "stopping; ")
                          + self.status_line())
            return 0
        finally:
            self.retire(wait=True)
            before = self.sink.dropped()
            self.sink.close()
            for priority, text in self.sink.notices():
                self.diag.log(priority, text)
            lost = self.sink.dropped() - before
            if lost:   # after the final status line: say so, or the loss is silent
                self.diag.log(syslog.LOG_WARNING, f"{lost} alert(s) could not be delivered "
                              f"before exit: {'; '.join(self.sink.errors())}")
            signal.set_wakeup_fd(old_wakeup)
            self.wake_fd = None
            os.close(wake_r)
            os.close(wake_w)

    def read_input(self, fd: int) -> bool:
        """Read what is there (up to a budget); True at end of input.
        `self.last_read` says how many bytes that was."""
        budget = READ_BUDGET
        self.last_read = 0
        while budget > 0:
            try:
                chunk = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                return False
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                self.diag.log(syslog.LOG_ERR, f"reading stdin failed: {exc.strerror}")
                return True
            if not chunk:
                return True
            budget -= len(chunk)
            self.last_read += len(chunk)
            self.pipeline.feed(chunk)
        return False

    def due(self, now: float) -> List[Optional[float]]:
        """When something needs the loop without input (monotonic times): events
        to age, rate-limit windows, a reload under way (it also wakes the loop
        itself) and sinks a reload replaced (a tick), outputs
        holding messages (their retry), the status line. Idle, nothing is due."""
        source = self.pipeline.source
        pending = getattr(source, "waiting", None)
        tick = now + TICK_SECONDS
        return [tick if source is not None and (pending is None or pending()) else None,
                tick if self.sink.limiter.open_windows() or self.retiring
                or self.reloading is not None else None,
                output_due(self.diag.syslog, now), self.next_status,
                *(output_due(output, now) for output in self.sink.outputs)]

    def housekeeping(self) -> None:
        self.pipeline.age()
        self.sink.tick(time.monotonic())
        for priority, text in self.sink.notices():
            self.diag.log(priority, text)
        if self.retiring:
            self.retire()
        self.diag.syslog.flush()
        if self.reloading is not None and self.reloading.done:
            self.finish_reload()
        if self.reload_requested and self.reloading is None:
            self.reload_requested = False
            self.start_reload()
        if self.reopen_requested:
            self.reopen_requested = False
            self.sink.reopen()
        now = time.monotonic()
        if self.status_requested or (self.next_status is not None and now >= self.next_status):
            self.status_requested = False
            self.diag.log(syslog.LOG_INFO, self.status_line())
            for error in self.sink.errors():
                self.diag.log(syslog.LOG_WARNING, f"output error: {error}")
            if self.cfg.status_interval:
                self.next_status = now + self.cfg.status_interval


def _paths_text(paths: List[str], shown: int = 3) -> str:
    """The rule paths for a log line: a long list (one path per file) is cut short."""
    if len(paths) <= shown:
        return ", ".join(paths)
    return f"{', '.join(paths[:shown])} and {len(paths) - shown} more paths"


def _stats_text(stats: Any) -> str:
    if stats is None:
        return ""
    if not isinstance(stats, dict):
        stats = getattr(stats, "__dict__", {}) or {}
    # The loop counts events and documents itself; the source adds what went wrong.
    return " ".join(f"{k}={v}" for k, v in stats.items()
                    if isinstance(v, (int, float)) and k not in ("events", "process_starts"))


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def prepare_signals(handler: Any) -> None:
    for signum in HANDLED_SIGNALS:
        signal.signal(signum, handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, UNBLOCK_SIGNALS)


def run_plugin(config_path: str, stdin_fd: int = 0) -> int:
    """Run the plugin until EOF or SIGTERM; 0 on a clean exit, 2 on a start-up error."""
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        Diagnostics("/dev/log", "daemon", "audisp-eql").log(syslog.LOG_ERR, f"cannot start: {exc}")
        return exitstatus.ERROR
    diag = Diagnostics(cfg.syslog.socket, cfg.log_facility, cfg.syslog.tag)
    bridge = LoggingBridge(diag)
    logging.getLogger("audisp_eql").addHandler(bridge)
    try:
        try:
            plugin = Plugin(cfg, diag)
        except (OSError, ValueError) as exc:
            diag.log(syslog.LOG_ERR, f"cannot start: {exc}")
            return exitstatus.ERROR
        gc.collect()    # once, before any input is read: what starting up left behind
        freeze_heap()   # the rules, built: out of every later collection (reloader.py)
        prepare_signals(plugin.on_signal)
        if cfg.user:
            try:
                uid, gid = drop_privileges(cfg.user)
            except PrivilegeError as exc:
                diag.log(syslog.LOG_ERR, f"cannot start: {exc}")
                plugin.sink.close()
                return exitstatus.ERROR
            diag.log(syslog.LOG_INFO, f"running as uid {uid} gid {gid}")
        return plugin.run(stdin_fd)
    finally:
        logging.getLogger("audisp_eql").removeHandler(bridge)
        diag.close()
