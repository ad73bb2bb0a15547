"""GET /audit/verify with anchors: the verified head to record, and a rewritten history caught."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from openpim.audit import verification
from tests.api.helpers import Api, assert_problem
from tests.audit.tampering import rewrite_from


def test_verify_returns_the_head_to_record_and_checks_anchors(api: Api) -> None:
    _, admin = api.env.pim_directory()
    token = api.token(admin)
    assert api.post(token, "/roles", {"display_name": "Ops A"}).status_code == 201
    first = api.get(token, "/audit/verify").json()
    assert first["ok"] is True and first["anchors_checked"] == 0
    seq, digest = first["head"].split(":")
    assert int(seq) == first["last_seq"] and len(digest) == 64

    assert api.post(token, "/roles", {"display_name": "Ops B"}).status_code == 201
    held = api.get(token, "/audit/verify", params={"anchor": [first["head"], first["head"]]})
    assert held.json()["ok"] is True and held.json()["anchors_checked"] == 1

    rewrite_from(api.env, int(seq), justification="never happened")
    assert api.get(token, "/audit/verify").json()["ok"] is True  # the chain alone cannot tell
    broken = api.get(token, "/audit/verify", params={"anchor": first["head"]}).json()
    assert broken["ok"] is False and broken["reason"] == "anchor mismatch"
    assert broken["first_broken_seq"] == int(seq)
    assert broken["head"] is None and broken["anchors_checked"] == 0

    bad = api.get(token, "/audit/verify", params={"anchor": "7:xyz"})
    assert "expected SEQ:HASH" in assert_problem(bad, 422, "invalid_anchor")["detail"]
    too_many = {"anchor": [first["head"]] * 101}
    assert_problem(api.get(token, "/audit/verify", params=too_many), 422, "too_many_anchors")


def test_one_verification_at_a_time_the_next_is_told_to_retry(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole-chain check reads every event: a second one while it runs is a 429, not a
    second full scan, and once it has finished the next one runs."""
    _, admin = api.env.pim_directory()
    token = api.token(admin)
    started, release = threading.Event(), threading.Event()
    real = verification.verify_anchored

    def slow(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(verification, "verify_anchored", slow)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(api.get, token, "/audit/verify")
        assert started.wait(10)
        busy = api.get(token, "/audit/verify")
        problem = assert_problem(busy, 429, "verification_running")
        assert busy.headers["Retry-After"] == "30" and "already running" in problem["detail"]
        release.set()
        assert first.result(10).json()["ok"] is True
    assert api.get(token, "/audit/verify").json()["ok"] is True
