"""GET /audit/verify with anchors: the verified head to record, and a rewritten history caught."""

from __future__ import annotations

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
