"""Every bound of audisp-eql, named, in one place.

Every value an attacker can grow (argv, paths, user names, rule text, the
number of distinct programs, half-finished sequences...) meets one of these.
Two eviction policies, and only two:

- caches (memos of pure functions: decoded bodies, index lookups, regex
  answers) are cleared whole when full (`BoundedCache`): a hit costs one dict
  lookup, a miss recomputes the same answer, so clearing is always correct
  and never counted as a loss;
- state (pending audit events, the process table, pending sequences) loses
  its oldest entry first when full, and every such eviction is counted and
  reported (status line, scan summary), since it can change a result.

Modules read a limit when they build the structure it bounds (or, for the
module-level caches, each time they fill up), never copy it at import time:
the tests shrink these values to drive every structure past its bound.

Memory is bounded in bytes, not only in entries: a bound on entries alone
lets one entry grow with the input (an argv of 3 x 100 kB held 16384 times).
Text is measured in characters (`*_CHARS`; audit text is ASCII or escaped,
one byte each), raw input in bytes (`*_BYTES`).
"""

from __future__ import annotations

import contextlib
from typing import Any, Hashable, Iterator, TypeVar

# -- audit records -> events (source/) -------------------------------------------
MAX_LINE = (1 << 20) + 4096       # bytes per record line: the kernel writes far less
MAX_PENDING_EVENTS = 4096         # events in progress (per node, and of all nodes together)
MAX_REPORTED_LINE_ERRORS = 1000   # malformed lines kept for reporting; all are counted
MAX_ENRICHED_HELD = 65536         # auparse source: ENRICHED tails waiting for their event
MAX_HELD_RECORDS = 1024           # auparse source: records auparse may hold per node (~2 KiB each)
MAX_HELD_RECORDS_TOTAL = 16384    # ... for all nodes together (the node holding most sheds)
MAX_PENDING_BYTES_TOTAL = 32 << 20  # record bytes pending for all nodes together (ditto)
MAX_NODE_SOURCES = 4096           # nodes with their own grouping state (~4 KiB each for auparse)
MAX_SHARD_ANSWERS = 16384         # node name -> "this shard's?" answers remembered
MAX_SHARDS = 1024                 # `shard = "K/N"`: N at most this (collector instances)
READ_CHUNK_BYTES = 1 << 20        # offline reads
# The plugin's reads: after a small read it lets records gather (auditd writes one
# record per write) for at most this long, in steps, until this many bytes wait:
# fewer, warmer wake-ups. The bytes stay far below a socket buffer; the time is
# what an alert may be delayed at a quiet host.
LIVE_GATHER_SECONDS = 0.1
LIVE_GATHER_STEP_SECONDS = 0.02
LIVE_GATHER_BYTES = 1 << 14
MAX_ECS_BLOCK_BYTES = 64 << 20    # --input ecs: one pretty-printed JSON value
MAX_ECS_FAILED_CLOSES = 8         # --input ecs: closing lines tried before giving up on a block
MAX_PENDING_BYTES = 8 << 20       # python source: record bytes of events in progress (oldest out)
MAX_HELD_BYTES = 4 << 20          # auparse source: record bytes auparse holds (it keeps ~3 copies)
MAX_ENRICHED_HELD_BYTES = 10 << 20  # auparse source: ENRICHED tails held (twice the above + a read)
MAX_ECS_DEPTH = 20                # --input ecs: object nesting (Elasticsearch's mapping depth limit)
MAX_ECS_NUMBER_CHARS = 64         # --input ecs: characters of one JSON number

# -- events -> ECS documents (ecs/) ------------------------------------------------
MAX_PROCESSES = 16384             # process table entries (LRU, evictions counted)
MAX_PROC_CACHE = 1024             # parents read from /proc, by pid and start time
MAX_SHARED_STRINGS = 8192         # strings shared between process table entries
MAX_BODY_CACHE = 4096             # decoded EXECVE/PROCTITLE bodies remembered
MAX_BODY_CACHE_LENGTH = 512       # ... only bodies up to this many characters
MAX_SYSCALL_NAMES = 65536         # (arch, number) -> name answers remembered
MAX_TIMESTAMPS = 1024             # formatted seconds remembered
MAX_AUDIT_KEYS = 1024             # decoded audit rule keys remembered
MAX_AUDIT_KEY_LENGTH = 512        # ... only keys up to this many characters
MAX_RECORD_TYPES = 4096           # record type -> "ends an event" answers remembered
MAX_CACHE_KEY_CHARS = 64          # syscall numbers, record types: longer ones are not remembered
MAX_ARG_CHARS = 128 << 10         # one argument in a document (the kernel's MAX_ARG_STRLEN)
MAX_ARGS_CHARS = 1 << 20          # all arguments of a document; beyond, long ones are cut
MAX_ARGS_CHARS_STORED = 4096      # argv kept per process table entry (process.parent.args)
MAX_PATH_CHARS_STORED = 4096      # executable / working directory kept per entry (PATH_MAX)
MAX_PROCESS_TABLE_CHARS = 16 << 20  # text of all process table entries (LRU, evictions counted)
PROCESS_ENTRY_OVERHEAD = 512      # ... plus this per entry (the objects around the text)
MAX_SHARED_STRING_CHARS = 256     # longer strings are not shared between entries
MAX_HOST_IDENTITIES = 16384       # node names whose host.* object is kept
MAX_PATH_ITEMS = 64               # PATH records of one event read (the kernel writes 1-6)
MAX_BOUND_SOCKETS = 8192          # bound sockets remembered for accept (LRU, evictions counted)
MAX_SOCKADDR_CHARS_STORED = 256   # ... only addresses whose hex (sockaddr_storage: 128 bytes) fits
MAX_ENVIRON_BYTES = 128 << 10     # bytes of /proc/PID/environ read for process.env_vars
MAX_ENV_VARS = 64                 # process.env_vars entries kept per process
MAX_ENVIRON_EVENT_AGE = 5.0       # seconds: older exec events get no process.env_vars
MAX_PROC_READ_EVENT_AGE = 5.0     # seconds: older file/network/... events read nothing in /proc
MAX_RUNNING_PROCESSES = 32768     # processes read from /proc at plugin start (already_running)

# -- rules -> matches (engine/, eql/) ----------------------------------------------
MAX_GATE_VIEWS = 256              # distinct gate keys (event.action, host.os.type, ...)
MAX_PROGRAM_LOOKUPS = 2048        # distinct (gate key, program fields) lookups
MAX_INDEX_ITEMS = 2048            # argument texts, and lists, remembered (all fields and views)
MAX_INDEX_ITEM_LENGTH = 512       # ... only texts up to this many characters
MAX_INDEX_LIST_LENGTH = 512       # whole argument lists remembered up to this many characters
MAX_INDEXED_ARGS = 64             # longer argument lists skip the per-document index
MAX_PENDING_SELECTIONS = 4096     # candidate sets by (program lookup, satisfied clauses), in all
LEARNING_CALLS = 512              # evaluations before an `and` reorders its terms
MAX_REGEX_ANSWERS = 4096          # per regex leaf: answers remembered
MAX_REGEX_ANSWER_LENGTH = 256     # ... only values up to this many characters
REGEX_MEMORY = 8 << 20            # RE2 memory per rule regex
LITERAL_SEARCH_MEMORY = 64 << 20  # RE2 set memory for the index's substring search
LITERAL_SEARCH_LENGTH = 1 << 16   # longer values are assumed to contain every literal
MAX_INTERVAL_VALUES = 10000       # Lucene <N-M> intervals expanded at most this far
MAX_LOOKUP_KEY_CHARS = 4096       # program-field lookups with longer values are not remembered
MAX_HINT_ATOMS = 4096             # values of one index clause; a bigger `or` is not indexed

# -- rule files (rules.py) -- the corpus' largest: 19 kB file, 10 kB query, 347
# terms, a list of 218 values; these allow several times that, loaded in linear time.
MAX_RULE_FILE_BYTES = 1 << 20     # one rule file
MAX_QUERY_CHARS = 64 << 10        # one query
MAX_QUERY_TERMS = 4096            # nodes of one parsed query
MAX_LIST_VALUES = 4096            # values of one `in` list or pattern list

# -- configuration (config.py): ranges of the values a config file may set ---------
MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_SECONDS = 86400.0      # event_timeout, status_interval, ratelimit interval
MAX_CONFIG_COUNT = 1_000_000      # burst, queue_size
MAX_CONFIG_STRING_CHARS = 4096    # any string value (PATH_MAX; host names, users are shorter)
MAX_CONFIG_LIST_ITEMS = 1024      # rule paths, exception paths, env_vars
MAX_CONFIG_SEQUENCE_MIB = 4096    # sequence_memory_mib (MAX_PENDING_BYTES set by the user)
REGEX_MAX_STATES = 200_000        # built-in regex automaton (no google-re2): NFA states per regex
REGEX_DFA_CACHE = 1 << 16         # ... its DFA cache (states + transitions), cleared whole when full

# -- stateful rules (engine/state.py, engine/sequence.py, engine/sample.py) ------
MAX_PENDING_PER_RULE = 4096       # entries of one store of one rule (per sequence stage...)
MAX_PENDING_TOTAL = 65536         # entries of all stores of all rules together
MAX_PENDING_BYTES = 4 << 20       # estimated size of the documents all that state holds
MAX_HELD_DOCUMENT_BYTES = 32768   # a heavier document is held as a trimmed copy ...
MAX_HELD_STRING = 1024            # ... strings cut to this many characters,
MAX_HELD_ITEMS = 64               # ... lists and objects to this many items,
MAX_HELD_DEPTH = 12               # ... and nothing nested deeper
MAX_STATE_SECONDS = 3600.0        # event-time lifetime of any state (maxspan or look-back)
MAX_HOST_CLOCKS = 16384           # hosts whose event time is followed (oldest forgotten)
MAX_KEY_COMBINATIONS = 64         # join keys one event yields from multi-valued fields
MAX_UNCONFIRMED_PER_KEY = 64      # completed sequences awaiting a trailing ![...] window

# -- exceptions (exceptions/) ------------------------------------------------------
MAX_EXCEPTION_ITEMS = 10000       # exception items loaded (the rest reported, not loaded)
MAX_EXCEPTION_FILE_BYTES = 16 << 20   # one exception file (TOML or Kibana NDJSON export)
MAX_STATUS_EXCEPTIONS = 10        # exceptions named with their counts on the status line

# -- alerts -> outputs (outputs/) ------------------------------------------------------
ALERT_QUEUE = 1000                # alerts an output holds while its peer is away (default)
MAX_SYSLOG_MESSAGE = 60 * 1024    # alert text per syslog message: one UDP datagram
REMOTE_CONNECT_SECONDS = 10.0     # TCP connect and TLS handshake, per address (sender thread)
REMOTE_SEND_SECONDS = 10.0        # one message to a collector that stopped reading
# TLS 1.3: a collector refuses the client's certificate (or its lack of one) only
# after the client's half of the handshake; wait this long for that verdict
# before the first alert goes out.
TLS_VERDICT_SECONDS = 0.5
REMOTE_CLOSE_SECONDS = 2.0        # close(): time left to deliver what is queued (the loop waits)
REMOTE_BACKOFF_FIRST = 0.5        # seconds before the first reconnect; doubled per failure
REMOTE_BACKOFF_MAX = 30.0
ROTATION_CHECK_SECONDS = 1.0      # how often the JSON file output looks for rotation
MAX_RATE_WINDOWS = 16384          # rate-limit windows, one per (rule, host) that alerted lately

# -- offline scan ------------------------------------------------------------------
MAX_REPORTED_SCAN_ERRORS = 20     # errors printed per scan; the summary counts them all
MAX_JOBS = 64                     # scan --jobs: worker processes at most
JOBS_BATCH_EVENTS = 5000          # scan --jobs: audit events per batch a worker builds and matches
JOBS_BATCHES_AHEAD = 2            # scan --jobs: batches sent to each worker before its oldest returns

# -- offline report (report/): counts stay exact, what is listed is bounded ---------
REPORT_EVIDENCE = 50              # findings listed per control ("and N more")
REPORT_TOP = 10                   # top users / hosts / executables shown
REPORT_ROWS = 200                 # rows of each aureport-style detail table
REPORT_MAX_DISTINCT = 65536       # distinct values counted one by one per counter (others summed)
REPORT_MAX_COUNTER_CHARS = 8 << 20  # ... and their characters (paths, names: input-controlled)
REPORT_MAX_HOSTS = 4096           # hosts followed (sources, integrity); later ones pooled
REPORT_TIMELINE_KEYS = 4096       # time buckets per timeline before it is coarsened
REPORT_MAX_GAPS = 1000            # integrity gaps listed per host (all counted)
REPORT_REORDER_WINDOW = 64        # serials an event may arrive late before a gap is final
REPORT_MAX_PENDING_GAPS = 256     # serial ranges waiting for late events, per host
REPORT_TIME_JUMP_SECONDS = 5      # event time going back further than this is a jump


Key = TypeVar("Key", bound=Hashable)


class BoundedCache(dict):  # type: ignore[type-arg]
    """A memo (key -> answer) cleared whole when it reaches its limit.

    A dict, so that the hit path is `cache.get(key)` at C speed; `remember`
    is the only way in. The limit is read by name from this module on each
    fill-up, so a test that lowers it reaches caches made at import time.

    With `key_chars_name`, a key longer than that many characters (strings,
    or the strings in a tuple) is not remembered: the cache's memory is then
    bounded by entries x that size, whatever the input."""

    __slots__ = ("limit_name", "key_chars_name", "clears")

    def __init__(self, limit_name: str, key_chars_name: str = "") -> None:
        super().__init__()
        for name in filter(None, (limit_name, key_chars_name)):
            if not isinstance(globals().get(name), int):
                raise ValueError(f"no limit named {name}")
        self.limit_name = limit_name
        self.key_chars_name = key_chars_name
        self.clears = 0

    def remember(self, key: Any, value: Any) -> bool:
        """Store an answer; True when the cache was cleared to make room."""
        if self.key_chars_name and key_chars(key) > globals()[self.key_chars_name]:
            return False
        cleared = len(self) >= globals()[self.limit_name]
        if cleared:
            self.clear()
            self.clears += 1
        self[key] = value
        return cleared


def key_chars(key: Any) -> int:
    """Characters of a cache key: a string's length, a tuple's strings summed
    (other items count 1, their size is fixed)."""
    if key.__class__ is str or key.__class__ is bytes:
        return len(key)
    if key.__class__ is tuple:
        return sum(map(key_chars, key))
    return 1


@contextlib.contextmanager
def lowered(**values: int | float) -> Iterator[None]:
    """Set limits (by name) for the duration of a block: for tests, which
    build the structures inside the block."""
    module = globals()
    unknown = [name for name in values if name not in module or name.startswith("_")]
    if unknown:
        raise KeyError(f"no such limit: {', '.join(unknown)}")
    saved = {name: module[name] for name in values}
    module.update(values)
    try:
        yield
    finally:
        module.update(saved)
