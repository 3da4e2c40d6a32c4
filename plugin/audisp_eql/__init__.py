"""audisp-eql: Elastic EQL detection rules evaluated on the Linux audit trail.

Data flows one way, one module per stage:

    records.py   lines / auparse feed -> Record
    assemble.py  Record -> AuditEvent (grouped by node and event id)
    ecs.py       AuditEvent -> ECS process-start document (proctable.py: parents)
    eql/         EQL text -> AST -> compiled predicate
    rules.py     TOML file -> Rule
    engine.py    ECS document -> matching rules (indexed)
    alerts.py    (document, rule) -> ECS alert
    outputs/     alert -> syslog / JSON-lines file / stdout
    daemon.py    the auditd plugin loop; cli.py the command line
"""

__version__ = "0.1.0"
