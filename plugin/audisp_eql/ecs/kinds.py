"""The event kinds audisp-eql builds, in dispatch order. To add a kind: write
its `EventBuilder` subclass in a module of its own here and list it below;
`check`, the coverage analysis and every pipeline pick it up from this list."""

from __future__ import annotations

from .account import AccountChangeBuilder
from .anomaly import AnomalyBuilder
from .apparmor import AppArmorBuilder
from .audit_trail import AuditConfigBuilder, AuditDaemonBuilder
from .authentication import AuthenticationBuilder
from .driver import DriverEventBuilder
from .file import FileEventBuilder
from .fork import ForkTracker
from .network import NetworkEventBuilder
from .privilege import SudoCommandBuilder
from .process import ProcessStartBuilder
from .process_change import ProcessChangeBuilder
from .registry import EventBuilder
from .running import RunningProcessKind
from .system import SystemBuilder
from .timechange import TimeChangeBuilder

KINDS: tuple[type[EventBuilder], ...] = (
    ProcessStartBuilder, ForkTracker,
    # file, network and kernel-module syscalls (audit rule profiles in conf/profiles/)
    FileEventBuilder, NetworkEventBuilder, DriverEventBuilder, ProcessChangeBuilder,
    AppArmorBuilder,
    # userspace and audit-trail records (compliance reporting)
    AuthenticationBuilder, AccountChangeBuilder, SudoCommandBuilder, AuditConfigBuilder,
    AuditDaemonBuilder, SystemBuilder, TimeChangeBuilder, AnomalyBuilder,
    # made from /proc when the plugin starts, not from audit events
    RunningProcessKind,
)
