"""Anchors catch what the chain alone cannot: a history rewritten with recomputed hashes."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from openpim.audit.anchors import (
    Anchor,
    HeadLog,
    check_anchors,
    current_anchor,
    parse_anchor,
    read_anchors,
    verified_head,
)
from openpim.audit.models import AuditEvent
from openpim.audit.verify import VerifyResult, verify_chain
from openpim.background import housekeeping_once
from tests.audit.tampering import rewrite_from
from tests.audit.test_verify import EVENTS, _sql, _write_events
from tests.factories import Env


def _anchor_at(env: Env, seq: int) -> Anchor:
    with env.runtime.db.reader() as session:
        stored = session.execute(select(AuditEvent.hash).where(AuditEvent.seq == seq)).scalar_one()
    return Anchor(seq, stored)


def _verify(env: Env, *anchors: Anchor) -> VerifyResult:
    engine = env.runtime.db.engine
    return check_anchors(engine, verify_chain(env.runtime.db), anchors)


def test_anchors_of_an_untouched_chain_hold_as_it_grows(env: Env) -> None:
    _write_events(env, 4)
    first = verified_head(verify_chain(env.runtime.db))
    assert first == current_anchor(env.runtime.db.engine) == _anchor_at(env, 4)
    _write_events(env, 3)  # appended after the anchor was recorded
    result = _verify(env, first, _anchor_at(env, 2), first)  # a repeated anchor is harmless
    assert result.ok and result.last_seq == 7 and result.reason is None
    assert verified_head(result) == _anchor_at(env, 7)


def test_a_rewritten_history_verifies_alone_but_not_against_its_anchors(env: Env) -> None:
    _write_events(env)
    kept = [_anchor_at(env, 2), _anchor_at(env, 5), _anchor_at(env, EVENTS)]
    rewrite_from(env, 4, justification="nothing to see here")

    assert verify_chain(env.runtime.db).ok  # the chain alone cannot tell
    result = _verify(env, *kept)
    assert (result.ok, result.first_broken_seq, result.reason) == (False, 5, "anchor mismatch")
    assert result.checked == 2  # events up to the last anchor that still matches are confirmed
    assert verified_head(result) is None
    assert _verify(env, kept[0]).ok  # anchors before the rewrite still hold


def test_a_truncated_and_rebuilt_chain_fails_at_the_anchor_beyond_its_end(env: Env) -> None:
    _write_events(env)
    head = _anchor_at(env, EVENTS)
    new_end = _anchor_at(env, EVENTS - 2)
    _sql(env, f"DELETE FROM audit_events WHERE seq > {EVENTS - 2}")
    _sql(env, f"UPDATE audit_chain_head SET last_seq = {new_end.seq}, last_hash = '{new_end.hash}'")

    assert verify_chain(env.runtime.db).ok
    result = _verify(env, head)
    assert (result.ok, result.first_broken_seq, result.reason) == (
        False,
        EVENTS,
        "anchor beyond the chain",
    )


def test_a_broken_chain_is_reported_as_broken_whatever_the_anchors(env: Env) -> None:
    _write_events(env)
    anchor = _anchor_at(env, EVENTS)
    _sql(env, "UPDATE audit_events SET justification = 'edited' WHERE seq = 3")
    result = _verify(env, anchor)
    assert (result.first_broken_seq, result.reason) == (3, "hash mismatch")


def test_an_empty_chain_has_no_head_to_record(env: Env) -> None:
    assert verified_head(verify_chain(env.runtime.db)) is None


_HASH = "9f" * 32


@given(st.integers(min_value=1, max_value=2**63 - 1), st.binary(min_size=32, max_size=32))
def test_an_anchor_reads_back_as_printed(seq: int, digest: bytes) -> None:
    anchor = Anchor(seq, digest.hex())
    assert parse_anchor(str(anchor)) == anchor
    assert parse_anchor(f"  {seq} {digest.hex().upper()}\n") == anchor


@pytest.mark.parametrize(
    "text",
    ["", "12", f"0:{_HASH}", f"-1:{_HASH}", f"1:{_HASH[:-1]}", f"1:{_HASH}0", f"1:{'g' * 64}",
     f"x:{_HASH}", f"1;{_HASH}", f"{2**63}:{_HASH}", f"\u0661:{_HASH}", f"1\u2003{_HASH}"],
)  # fmt: skip
def test_malformed_anchors_are_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="expected SEQ:HASH"):
        parse_anchor(text)


@given(st.text(max_size=80))
def test_parsing_any_text_gives_an_anchor_or_a_value_error(text: str) -> None:
    try:
        anchor = parse_anchor(text)
    except ValueError:
        return
    assert anchor.seq >= 1 and len(anchor.hash) == 64


def test_an_anchors_file_skips_comments_and_names_a_bad_line() -> None:
    lines = ["# shipped nightly", "", f"3:{_HASH}  # after the release", f"   7 {_HASH}"]
    assert read_anchors(lines) == [Anchor(3, _HASH), Anchor(7, _HASH)]
    with pytest.raises(ValueError, match="line 2: 'oops'"):
        read_anchors([f"3:{_HASH}", "oops"])


def test_the_head_is_logged_once_per_interval_and_only_when_it_moved(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="openpim.audit.anchors")
    engine = env.runtime.db.engine
    head_log = HeadLog(timedelta(minutes=15))
    assert head_log.maybe_log(engine, env.now) is None  # an empty chain has no head to keep
    _write_events(env, 2)
    first = env.now
    logged = head_log.maybe_log(engine, first)
    assert logged == _anchor_at(env, 2)
    assert caplog.messages == [f"audit chain head {logged}"]

    _write_events(env, 1)  # (moves the test clock a minute or so)
    assert head_log.maybe_log(engine, first + timedelta(minutes=14)) is None  # not yet due
    later = first + timedelta(minutes=15)
    assert head_log.maybe_log(engine, later) == _anchor_at(env, 3)
    assert head_log.maybe_log(engine, later + timedelta(hours=1)) is None  # has not moved
    assert len(caplog.messages) == 2
    # The logged line is an anchor as `audit verify --anchors` reads it.
    assert read_anchors([caplog.messages[-1].removeprefix("audit chain head ")]) == [
        _anchor_at(env, 3)
    ]
    assert HeadLog(timedelta(0)).maybe_log(engine, later) is None  # PT0S: off


def test_housekeeping_logs_the_head(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="openpim.audit.anchors")
    _write_events(env, 1)
    housekeeping_once(env.runtime, HeadLog(env.runtime.settings.audit_head_log_interval))
    assert f"audit chain head {_anchor_at(env, 1)}" in caplog.messages
