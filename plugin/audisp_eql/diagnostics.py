"""The plugin's own messages (start-up, reloads, status lines, errors): to the
local syslog socket with the configured facility, and to stderr.

Other modules log with `logging` under "audisp_eql"; in the plugin a
`LoggingBridge` hands those records to the same place.
"""

from __future__ import annotations

import logging
import sys
import syslog

from .outputs import LocalSyslogOutput


class Diagnostics:
    """The plugin's own messages: to syslog (facility from config) and stderr."""

    def __init__(self, socket_path: str, facility: str, tag: str) -> None:
        self.syslog = LocalSyslogOutput(socket_path, facility=facility, tag=tag, queue_size=100)
        self.facility = facility

    def log(self, priority: int, text: str) -> None:
        from .escape import safe_text
        text = safe_text(text)
        self.syslog.log(priority, text, self.facility)
        try:
            print(f"audisp-eql: {text}", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass  # auditd may have given us no usable stderr

    def close(self) -> None:
        self.syslog.close()


class LoggingBridge(logging.Handler):
    """Other modules log with `logging`; in the plugin that goes to Diagnostics."""

    LEVELS = {logging.ERROR: syslog.LOG_ERR, logging.WARNING: syslog.LOG_WARNING,
              logging.INFO: syslog.LOG_INFO}

    def __init__(self, diag: Diagnostics) -> None:
        super().__init__(logging.INFO)
        self.diag = diag

    def emit(self, record: logging.LogRecord) -> None:
        level = max((lv for lv in self.LEVELS if lv <= record.levelno), default=logging.INFO)
        self.diag.log(self.LEVELS[level], record.getMessage())
