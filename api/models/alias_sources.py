"""Where the live alias set comes from: the admin set in Redis, else the file, else the setting.

Precedence, checked at every catalog refresh (at most once a second):

1. A set stored by `PUT /v1/admin/aliases` (key `spectrum:aliases` in the result
   backend), so every gateway process sees the same set at its next refresh.
2. SPECTRUM_ALIASES_FILE, re-read when its modification time changes (its stat is
   taken at most once per `check_s`). A file that does not parse, or breaks a rule,
   is logged and the previous set is kept.
3. SPECTRUM_ALIASES (inline JSON), parsed once at start; a bad one is logged and
   ignored.

Each source's text is parsed once per change, not once per refresh.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal

import structlog

from spectrum.api.models.aliases import Alias, InvalidAliases, load_aliases

log = structlog.get_logger(__name__)

Source = Literal["admin", "file", "env", "none"]


@dataclass(frozen=True)
class AliasSet:
    aliases: dict[str, Alias] = field(default_factory=dict)
    source: Source = "none"


class AliasSources:
    """Picks the live alias set from the three sources; pure but for the file's stat and read."""

    def __init__(
        self,
        *,
        inline: str = "",
        path: str = "",
        check_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._check_s = check_s
        self._clock = clock
        self._env = AliasSet()
        if inline.strip():
            try:
                self._env = AliasSet(load_aliases(inline), "env")
            except InvalidAliases as exc:
                log.error("SPECTRUM_ALIASES ignored", reason=str(exc))
        self._file: AliasSet | None = None
        self._file_mtime: float | None = None
        self._checked_at = float("-inf")
        self._stored_raw: bytes | None = None
        self._stored = AliasSet()

    def select(self, stored: bytes | str | None, models: Collection[str] = ()) -> AliasSet:
        """The live set, given the admin document read from Redis (None: none stored)."""
        if stored is not None:
            raw = stored.encode() if isinstance(stored, str) else stored
            if raw != self._stored_raw:
                try:
                    self._stored = AliasSet(load_aliases(raw), "admin")
                except InvalidAliases as exc:  # PUT validates; only a hand edit gets here
                    log.error("stored alias set ignored", reason=str(exc))
                    self._stored = AliasSet()
                self._stored_raw = raw
            if self._stored.source == "admin":
                return self._stored
        if self._path:
            self._check_file(models)
            if self._file is not None:
                return self._file
        return self._env

    def _check_file(self, models: Collection[str]) -> None:
        now = self._clock()
        if now - self._checked_at < self._check_s:
            return
        self._checked_at = now
        try:
            mtime = os.stat(self._path).st_mtime
        except OSError as exc:  # not there (yet): the set stays as it is
            log.debug("aliases file unreadable", path=self._path, error=type(exc).__name__)
            return
        if mtime == self._file_mtime:
            return
        self._file_mtime = mtime
        try:
            with open(self._path, "rb") as handle:
                aliases = load_aliases(handle.read(), models=models)
        except (OSError, InvalidAliases) as exc:
            log.error(
                "aliases file not loaded; the previous set is kept",
                path=self._path,
                reason=str(exc),
            )
            return
        self._file = AliasSet(aliases, "file")
        log.info("aliases file loaded", path=self._path, aliases=sorted(aliases))
