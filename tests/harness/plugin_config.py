"""The plugin's configuration, drop-in and command line, written one way for
every test, fuzz and benchmark module that runs a real plugin."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional, Sequence, Union

PathLike = Union[str, Path]


def toml_string(value: PathLike) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(str(value), ensure_ascii=False)


def write_plugin_config(directory: Path, rules: Sequence[PathLike], alerts: Path, *,
                        syslog_socket: Optional[PathLike] = None,
                        syslog_format: Optional[str] = None,
                        burst: Optional[int] = None,
                        parent_from_proc: Optional[bool] = None,
                        event_action: Optional[str] = None,
                        file_mode: Optional[str] = None,
                        exceptions: Sequence[PathLike] = (),
                        status_interval: float = 0,
                        config_mode: int = 0o600, extra: str = "", plugin_extra: str = "",
                        name: str = "audisp-eql.toml") -> Path:
    """`directory/name`: rules from `rules`, alerts to the JSON-lines file
    `alerts`, syslog to `syslog_socket` (None: syslog off), no periodic status
    line (unless `status_interval`), exceptions from `exceptions` only (never
    the host's /etc/audisp-eql/exceptions.d); the other keys only when given
    (else the plugin's defaults). `extra` is appended as is (more tables),
    `plugin_extra` goes into [plugin]."""
    plugin = [f"status_interval = {status_interval:g}"]
    if parent_from_proc is not None:
        plugin.append(f"parent_from_proc = {'true' if parent_from_proc else 'false'}")
    if event_action is not None:
        plugin.append(f"event_action = {toml_string(event_action)}")
    if plugin_extra:
        plugin.append(plugin_extra.strip("\n"))
    lines = ["[plugin]", *plugin,
             "[rules]", f"paths = [{', '.join(toml_string(p) for p in rules)}]",
             "[exceptions]", f"paths = [{', '.join(toml_string(p) for p in exceptions)}]"]
    if burst is not None:
        lines += ["[ratelimit]", f"burst = {burst}"]
    lines.append("[output.syslog]")
    if syslog_socket is None:
        lines.append("enabled = false")
    else:
        lines.append(f"socket = {toml_string(syslog_socket)}")
    if syslog_format is not None:
        lines.append(f"format = {toml_string(syslog_format)}")
    lines += ["[output.file]", "enabled = true", f"path = {toml_string(alerts)}"]
    if file_mode is not None:
        lines.append(f"mode = {toml_string(file_mode)}")
    config = directory / name
    config.write_text("\n".join(lines) + "\n" + extra)
    os.chmod(config, config_mode)
    return config


def plugin_argv(config: PathLike, python: str = sys.executable) -> list[str]:
    """The plugin as auditd runs it, with this venv's interpreter explicit."""
    return [python, "-m", "audisp_eql.cli", "plugin", str(config)]


def dropin_text(program: PathLike, config: PathLike) -> str:
    """auditd's plugins.d entry starting `program plugin config`."""
    return (f"active = yes\ndirection = out\npath = {program}\ntype = always\n"
            f"args = plugin {config}\nformat = string\n")


def write_exceptions(path: Path, text: str, mode: int = 0o644) -> Path:
    """An exception file (audisp-eql-exceptions(5)) the plugin will trust."""
    path.write_text(text)
    os.chmod(path, mode)
    return path
