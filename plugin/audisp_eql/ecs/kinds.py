"""The event kinds audisp-eql builds, in dispatch order. To add a kind: write
its `EventBuilder` subclass in a module of its own here and list it below;
`check`, the coverage analysis and every pipeline pick it up from this list."""

from __future__ import annotations

from .account import AccountChangeBuilder
from .anomaly import AnomalyBuilder
from .audit_trail import AuditConfigBuilder, AuditDaemonBuilder
from .authentication import AuthenticationBuilder
from .fork import ForkTracker
from .privilege import SudoCommandBuilder
from .process import ProcessStartBuilder
from .registry import EventBuilder
from .system import SystemBuilder
from .timechange import TimeChangeBuilder

KINDS: tuple[type[EventBuilder], ...] = (
    ProcessStartBuilder, ForkTracker,
    # userspace and audit-trail records (compliance reporting)
    AuthenticationBuilder, AccountChangeBuilder, SudoCommandBuilder, AuditConfigBuilder,
    AuditDaemonBuilder, SystemBuilder, TimeChangeBuilder, AnomalyBuilder,
)
