"""uid/gid -> name from the local user database, cached and bounded.

Only meaningful for records of this host: offline scans of another host's
logs should rely on the ENRICHED names in the records instead.
"""

from __future__ import annotations

import grp
import pwd
from typing import Optional

from .. import limits


class UserDb:
    def __init__(self, max_entries: int = 4096) -> None:
        self._users: dict[str, Optional[str]] = {}
        self._groups: dict[str, Optional[str]] = {}
        self._max = max_entries

    def user_name(self, uid: str) -> Optional[str]:
        return self._lookup(self._users, uid, lambda n: pwd.getpwuid(n).pw_name)

    def group_name(self, gid: str) -> Optional[str]:
        return self._lookup(self._groups, gid, lambda n: grp.getgrgid(n).gr_name)

    def _lookup(self, cache: dict[str, Optional[str]], key: str, get) -> Optional[str]:
        if key in cache:
            return cache[key]
        try:
            name: Optional[str] = get(int(key))
        except (KeyError, ValueError, OverflowError):
            name = None     # unknown ids are cached too: a miss costs a file scan
        if len(key) > limits.MAX_CACHE_KEY_CHARS:
            return name     # ids come from the input: a long one is not kept
        if len(cache) >= self._max:
            cache.clear()
        cache[key] = name
        return name
