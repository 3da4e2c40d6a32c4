"""audisp-eql: Elastic EQL detection rules evaluated on the Linux audit trail.

Data flows one way; the packages are the stages (HACKING.md has the map):

    source/      files, stdin -> lines -> records -> audit events
    ecs/         audit event -> ECS documents (one builder per event kind)
    engine/      ECS documents -> matches (single-event and stateful rules)
    alerts.py    match -> ECS alert
    outputs/     alert -> syslog / JSON-lines file / stdout
    pipeline.py  the one place the stages are wired
    eql/         the language: EQL text -> AST -> compiled predicate
    rules.py     TOML rule files -> Rule (coverage.py: can it fire?)
    daemon.py    the auditd plugin loop; scan.py, cli.py the commands
    limits.py    every bound
"""

__version__ = "0.1.0"
