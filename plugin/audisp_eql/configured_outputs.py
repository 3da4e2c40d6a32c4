"""The alert outputs the configuration names, opened (the plugin at start,
daemon.py, and on a reload that changes them, reloader.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional

from .config import Config, drop_uid
from .outputs import (JsonFileOutput, LocalSyslogOutput, Output, RemoteSyslogOutput,
                      StdoutOutput, TlsSettings)
from .outputs.tls import make_context

if TYPE_CHECKING:
    import ssl   # loaded where a TLS context is made (outputs/tls.py)


def build_outputs(cfg: Config,
                  tls_contexts: Optional[Dict[TlsSettings, ssl.SSLContext]] = None) -> List[Output]:
    """Open every configured output; OSError/ValueError propagate to the caller.

    `tls_contexts` holds the TLS contexts already loaded, by settings: those are
    reused (a reload after a privilege drop cannot read a root-only key again),
    new ones are loaded and added."""
    contexts = {} if tls_contexts is None else tls_contexts
    outputs: List[Output] = []
    if cfg.syslog.enabled:
        outputs.append(LocalSyslogOutput(cfg.syslog.socket, cfg.syslog.facility,
                                         cfg.syslog.format, cfg.syslog.tag, cfg.queue_size))
    for remote in cfg.remotes:
        tls = remote.tls()
        if tls is not None and tls not in contexts:
            contexts[tls] = make_context(tls)
        outputs.append(RemoteSyslogOutput(remote.host, remote.port, remote.protocol,
                                          remote.facility, remote.format, cfg.queue_size,
                                          tls=tls, context=contexts.get(tls) if tls else None))
    if cfg.file.enabled:
        # The user the plugin drops to may own the log directory (the package's does).
        uid = drop_uid(cfg.user) if cfg.user else None
        outputs.append(JsonFileOutput(cfg.file.path, cfg.file.mode,
                                      owners=() if uid is None else (uid,)))
    if cfg.stdout.enabled:
        outputs.append(StdoutOutput(cfg.stdout.format))
    return outputs


def outputs_config(cfg: Config) -> tuple:
    """What the outputs are built from: a change on reload builds them anew."""
    return (cfg.syslog, cfg.remotes, cfg.file, cfg.stdout, cfg.queue_size)
