"""The writer's bounded backlog: stream entries read but not yet committed to the database.

Invariants: the backlog never holds more than `max_rows` rows; an entry that does not
fit is refused whole (the caller counts its rows as dropped and acknowledges it);
entries leave in the order they came, and only after their rows were committed, so
an entry still here is still pending in the stream's consumer group (a restarted
writer reads it again).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from spectrum.shared.predlog.rows import Row


@dataclass(frozen=True)
class Entry:
    """One stream entry: its id and the rows it carries."""

    id: str
    rows: list[Row]


class Backlog:
    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self._entries: deque[Entry] = deque()
        self._rows = 0

    @property
    def rows(self) -> int:
        return self._rows

    def __len__(self) -> int:
        return len(self._entries)

    def has_room(self) -> bool:
        return self._rows < self.max_rows

    def offer(self, entry: Entry) -> bool:
        """Keep `entry` if all its rows fit under the bound; False: refused (dropped)."""
        if self._rows + len(entry.rows) > self.max_rows:
            return False
        self._entries.append(entry)
        self._rows += len(entry.rows)
        return True

    def batch(self, max_rows: int) -> list[Entry]:
        """The oldest entries whose rows add up to at most `max_rows` (always at least one)."""
        taken: list[Entry] = []
        total = 0
        for entry in self._entries:
            if taken and total + len(entry.rows) > max_rows:
                break
            taken.append(entry)
            total += len(entry.rows)
        return taken

    def remove(self, entries: list[Entry]) -> None:
        """Drop the first len(entries) entries: those a `batch` answered, now committed."""
        for expected in entries:
            entry = self._entries.popleft()
            assert entry.id == expected.id, "entries leave in the order batch() gave them"
            self._rows -= len(entry.rows)
