"""Users as small numbers, so that remembered days stay small.

A closed day costs 4 bytes per distinct user and role, and the union over a month is a union
of small ints. A numbering only grows (by users who activated something); closed_days.py
starts a new one when its cache is emptied or the numbering grows too large, and uses a
remembered day only with the numbering it was counted in.
"""

from __future__ import annotations

import threading
from array import array

# One lock for a numbering's table and closed_days.py's cache: renewing the numbering empties
# the cache in the same step.
lock = threading.Lock()


class UserNumbering:
    def __init__(self) -> None:
        self.numbers: dict[bytes | str, int] = {}

    def intern(self, keys: set[bytes] | set[str]) -> array[int]:
        with lock:
            table = self.numbers
            for key in [k for k in keys if k not in table]:
                table[key] = len(table)
            return array("I", map(table.__getitem__, keys))
