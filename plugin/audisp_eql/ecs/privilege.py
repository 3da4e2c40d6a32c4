"""sudo's USER_CMD record -> a process document (Auditbeat: ran-command).

    pid=P uid=U auid=A ses=S msg='cwd="/home/bob" cmd="/usr/bin/id" exe="/usr/bin/sudo"
        terminal=pts/0 res=success'

`uid` is the user who ran sudo (`user.*`), not the user the command runs
as (that is the `acct` of the CRED_REFR / USER_START sudo writes next).
`res=failed` is a refused command. The command (hex when it holds spaces)
goes to `auditd.data.cmd`, not to `process.args`: the command's own exec is
a separate process-start document when exec auditing is on, and process
rules must not see sudo's record as a second start of it.
"""

from __future__ import annotations

from typing import Optional

from ..source.event import AuditEvent
from .common import EVENT_CONSTANTS
from .registry import Document, EventBuilder, Syscall
from .userspace import (COMMON_FIELDS, finish, outcome_of, related_users, sender, skeleton,
                        user_record)

_FIELDS = COMMON_FIELDS | frozenset("""
user.id user.name process.working_directory auditd.data.cmd auditd.data.terminal
""".split())


class SudoCommandBuilder(EventBuilder):
    kind = "privilege"
    categories = ("process",)
    fields = _FIELDS
    constants = {**EVENT_CONSTANTS,
                 "event.category": ["process"], "event.type": ["start"],
                 "event.action": "ran-command"}
    record_types = frozenset({"USER_CMD"})

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        rtype, body = event.raw[0]
        record = user_record(rtype, body)
        context = self.context
        process, audit = sender(record, context, syscall)
        doc = skeleton(event, self.context, record, ["process"], ["start"], "ran-command",
                       outcome_of(record.get("res")))
        actor = process["user"]
        process["working_directory"] = record.text_of("cwd")
        doc["process"] = process
        doc["user"] = {"id": actor.get("id"), "name": actor.get("name"), "audit": audit}
        doc["auditd"]["data"] = {"cmd": record.text_of("cmd"),
                                 "terminal": record.plain("terminal")}
        doc["related"] = {"user": related_users(actor.get("name"), audit.get("name"))}
        return [finish(doc, event, context)]
