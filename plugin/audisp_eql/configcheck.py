"""`audisp-eql plugin --check-config CONFIG`, like `rsyslogd -N1`: load the
configuration, the rules and the exceptions it names exactly as the plugin
would, say what would run, and change nothing: no output is opened, no
socket connected, no file created, no privilege dropped.

Errors (stderr, with file and line) are what would stop the plugin or make
it run without some of its rules or exceptions; warnings are printed and do
not change the exit status (0 no error, 2 errors).
"""

from __future__ import annotations

import os
import pwd
import stat
import sys
from typing import Optional, TextIO

from . import exitstatus
from .config import Config, ConfigError, load_config, missing_ok
from .escape import safe_text


class _Report:
    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self.errors = 0
        self.warnings = 0

    def say(self, line: str) -> None:
        self.out.write(safe_text(line) + "\n")

    def error(self, line: str) -> None:
        self.errors += 1
        self.err.write(f"audisp-eql: error: {safe_text(line)}\n")

    def warning(self, line: str) -> None:
        self.warnings += 1
        self.err.write(f"audisp-eql: warning: {safe_text(line)}\n")


def _outputs(cfg: Config, report: _Report) -> None:
    """What each output would be, and what stat() alone shows would fail (the
    TLS files were loaded by load_config, which names any that fail)."""
    report.say("outputs:")
    if cfg.syslog.enabled:
        report.say(f"  syslog {cfg.syslog.socket} facility {cfg.syslog.facility} "
                   f"format {cfg.syslog.format} tag {cfg.syslog.tag}")
        if not os.path.exists(cfg.syslog.socket):
            report.warning(f"{cfg.path}: output.syslog.socket {cfg.syslog.socket} does not exist "
                           "now (alerts are queued until it does)")
    for remote in cfg.remotes:
        tls = remote.tls()
        report.say(f"  remote {remote.protocol}://{remote.host}:{remote.port} "
                   f"facility {remote.facility} format {remote.format}"
                   + (f" (certificates of {tls.ca_file or 'the system'}"
                      + (f", client certificate {tls.cert_file}" if tls.cert_file else "")
                      + ")" if tls else ""))
    if cfg.file.enabled:
        report.say(f"  file {cfg.file.path} mode {cfg.file.mode:04o}")
        directory = os.path.dirname(cfg.file.path) or "/"
        try:
            st = os.lstat(cfg.file.path)
        except FileNotFoundError:
            if not os.path.isdir(directory):
                report.error(f"{cfg.path}: output.file.path: directory {directory} does not "
                             "exist (the plugin creates the file, not the directory)")
        except OSError as exc:
            report.warning(f"{cfg.path}: output.file.path: cannot check {cfg.file.path}: "
                           f"{exc.strerror}")
        else:
            if not stat.S_ISREG(st.st_mode):
                report.error(f"{cfg.path}: output.file.path: {cfg.file.path} is not a regular "
                             "file (a symlink or a FIFO is refused)")
    if cfg.stdout.enabled:
        report.say(f"  stdout format {cfg.stdout.format}")
    if not (cfg.syslog.enabled or cfg.remotes or cfg.file.enabled or cfg.stdout.enabled):
        report.warning(f"{cfg.path}: no output is enabled: alerts go nowhere")


def _user(cfg: Config, report: _Report) -> None:
    if not cfg.user:
        report.say("user: stays root")
        return
    try:
        entry = pwd.getpwnam(cfg.user) if not cfg.user.isdigit() else pwd.getpwuid(int(cfg.user))
    except KeyError:
        report.error(f"{cfg.path}: plugin.user: no such user: {cfg.user!r}")
        return
    report.say(f"user: drops to {entry.pw_name} (uid {entry.pw_uid}, gid {entry.pw_gid}) "
               "once the outputs are open")


def check_config(path: str, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    report = _Report(out, err)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        report.error(str(exc))
        return exitstatus.ERROR
    from .check import load_checked
    from .exceptions import utc_now
    report.say(f"configuration {cfg.path}: read")
    ruleset, exceptions = load_checked(cfg.rule_paths, cfg.exception_paths,
                                       missing_ok=missing_ok(cfg))
    counts = ruleset.counts()
    report.say(f"rules: {len(ruleset.rules)} to run from {', '.join(cfg.rule_paths)} ("
               + ", ".join(f"{n} {status}" for status, n in counts.items() if n) + ")")
    for invalid in ruleset.invalid:
        report.error(f"rule not loaded: {invalid.reason}")
    now = utc_now()
    expired = exceptions.expired(now)
    report.say(f"exceptions: {len(exceptions.items) - len(expired)} applied, {len(expired)} "
               f"expired, from {len(exceptions.files)} file(s) in "
               f"{', '.join(cfg.exception_paths)}; {len(exceptions.disabled_rules)} rules disabled")
    for error in exceptions.errors:
        report.error(f"exception not loaded: {error}")
    for warning in exceptions.warnings:
        report.warning(warning)
    for item in expired:
        report.warning(f"exception {item.label} expired on {item.expires:%Y-%m-%d %H:%M} UTC: "
                       "not applied")
    _outputs(cfg, report)
    _user(cfg, report)
    report.say(f"plugin: parser {cfg.parser}, event_action {cfg.event_action}, rate limit "
               f"{cfg.burst} per {cfg.burst_interval:g} s per rule, queue {cfg.queue_size}, "
               f"sequence memory {cfg.sequence_memory_mib} MiB")
    report.say(f"{report.errors} errors, {report.warnings} warnings"
               + (" (see `audisp-eql check` for the rules)" if report.errors else ""))
    return exitstatus.ERROR if report.errors else exitstatus.OK
