"""Anchors: chain hashes recorded outside the database, to detect a rewritten history.

The hash chain shows any edit, deletion or swap of stored events, but someone who can write to
the database could rewrite an event and recompute every hash after it, and the chain would
verify again. An anchor ("SEQ:HASH", printed by `openpim audit head` and by a passing
`openpim audit verify`) kept where the database's writers cannot reach it (a ticket, a log
shipper, a WORM bucket) defeats that: the rewritten chain no longer has that hash at that seq.
Verification with anchors first checks the chain itself, then that each anchor's event is
still there with the recorded hash.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, Engine, bindparam, select

from openpim.audit.models import AuditEvent
from openpim.audit.verify import VerifyResult, read_head, verify_chain

# ASCII digits and white space only: \d and \s would also take other scripts' characters.
log = logging.getLogger("openpim.audit.anchors")

_ANCHOR = re.compile(r"\s*([0-9]{1,19})\s*[:\s]\s*([0-9a-fA-F]{64})\s*", re.ASCII)
_LOOKUP_CHUNK = 500


class Anchor(NamedTuple):
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def parse_anchor(text: str) -> Anchor:
    """Read "SEQ:HASH" (or "SEQ HASH"); ValueError with a readable message otherwise."""
    found = _ANCHOR.fullmatch(text)
    seq = int(found.group(1)) if found else 0
    if found is None or seq < 1 or seq > 2**63 - 1:
        raise ValueError(
            f"{text.strip()[:80]!r} is not an anchor: expected SEQ:HASH, a sequence number "
            "from 1 and the event's 64-hex-digit SHA-256 hash (as `openpim audit head` prints)"
        )
    return Anchor(seq, found.group(2).lower())


def read_anchors(lines: Iterable[str]) -> list[Anchor]:
    """Anchors from a file's lines: one per line, blank lines and '#' comments skipped.
    A bad line raises ValueError naming its line number."""
    anchors: list[Anchor] = []
    for number, line in enumerate(lines, start=1):
        content = line.split("#", 1)[0]
        if not content.strip():
            continue
        try:
            anchors.append(parse_anchor(content))
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None
    return anchors


def current_anchor(engine: Engine) -> Anchor:
    """The chain head as an anchor (not verified here: record it after a passing verify, or
    trust it as far as the database is trusted at this moment)."""
    with engine.connect() as conn:
        try:
            seq, hash_ = read_head(conn)
        finally:
            conn.rollback()
    return Anchor(seq, hash_)


def verified_head(result: VerifyResult) -> Anchor | None:
    """The anchor to record after a passing check (None when broken or empty)."""
    if not result.ok or result.head_hash is None or result.last_seq < 1:
        return None
    return Anchor(result.last_seq, result.head_hash)


def _stored_hashes(conn: Connection, seqs: Sequence[int]) -> dict[int, str]:
    statement = select(AuditEvent.seq, AuditEvent.hash).where(
        AuditEvent.seq.in_(bindparam("seqs", expanding=True))
    )
    found: dict[int, str] = {}
    for start in range(0, len(seqs), _LOOKUP_CHUNK):
        chunk = list(seqs[start : start + _LOOKUP_CHUNK])
        found.update((int(s), str(h)) for s, h in conn.execute(statement, {"seqs": chunk}))
    return found


def check_anchors(
    engine: Engine, verified: VerifyResult, anchors: Iterable[Anchor]
) -> VerifyResult:
    """The result of a chain check, failed at the first anchor the chain no longer holds.

    Only an intact chain is checked against anchors (a broken one already names its break).
    On a mismatch, `first_broken_seq` is that anchor's seq and `checked` the seq of the last
    anchor below it that still matches (0 if none): the rewrite lies between the two. An anchor
    beyond the chain's end means events were removed and the chain rebuilt shorter.
    """
    wanted = sorted(set(anchors))
    if not verified.ok or not wanted:
        return verified
    with engine.connect() as conn:
        try:
            stored = _stored_hashes(conn, [a.seq for a in wanted])
        finally:
            conn.rollback()
    confirmed = 0
    for anchor in wanted:
        if anchor.seq > verified.last_seq or anchor.seq not in stored:
            reason = "anchor beyond the chain"
        elif stored[anchor.seq] != anchor.hash:
            reason = "anchor mismatch"
        else:
            confirmed = anchor.seq
            continue
        return dataclasses.replace(
            verified, ok=False, checked=confirmed, first_broken_seq=anchor.seq, reason=reason
        )
    return verified


def verify_anchored(engine: Engine, anchors: Iterable[Anchor], *, workers: int = 1) -> VerifyResult:
    """The whole chain checked (`verify_chain`, in its own snapshot), then against `anchors`."""
    return check_anchors(engine, verify_chain(engine, workers=workers), anchors)


class HeadLog:
    """Logs the chain head ("audit chain head SEQ:HASH") at most once per `interval`, and only
    when it moved, so a log shipper keeps anchors without anyone running `audit head`. Every
    process that runs the background loops logs its own line; the lines agree."""

    def __init__(self, interval: timedelta) -> None:
        self.interval = interval
        self._last: tuple[Anchor, datetime] | None = None

    def maybe_log(self, engine: Engine, now: datetime) -> Anchor | None:
        """The anchor logged by this call, if one was due."""
        if self.interval <= timedelta(0):
            return None
        if self._last is not None and now - self._last[1] < self.interval:
            return None
        head = current_anchor(engine)
        if head.seq < 1 or (self._last is not None and self._last[0] == head):
            return None
        log.info("audit chain head %s", head)
        self._last = (head, now)
        return head
