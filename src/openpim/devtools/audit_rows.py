"""A valid hash-chained audit history, generated at millions of events per minute.

Each event's hash is computed exactly as openpim.audit.writer does (chain.link_hash over the
writer's fields); the per-row work uses verify.py's template form of the canonical JSON, and
every CROSS_CHECK_EVERY-th event is recomputed with chain.link_hash itself, so a drift between
the two would stop the seed instead of producing a chain that `audit verify` rejects.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from openpim.audit.chain import BODY_TEMPLATE, link_hash, text_token
from openpim.devtools.dataset import (
    DAY_US,
    Instants,
    Population,
    instant_token,
    uuid_token,
)
from openpim.devtools.schedules import Sched

CROSS_CHECK_EVERY = 50_000

AUDIT_COLUMNS = (
    "seq", "occurred_at", "directory_id", "actor_id", "actor_label", "action", "result",
    "target_user_id", "target_label", "role_id", "role_label", "request_id", "schedule_id",
    "justification", "ticket_number", "ticket_system", "start_at", "end_at", "detail",
    "client_address", "http_request_id", "prev_hash", "hash",
)  # fmt: skip

# (action, weight per thousand). Names follow the "<area>.<verb>" style of the services.
_KINDS = (
    ("auth.signed_in", 280),
    ("auth.step_up", 140),
    ("activation.activated", 160),
    ("activation.deactivated", 30),
    ("activation.expired", 120),
    ("eligibility.added", 60),
    ("assignment.added", 20),
    ("assignment.removed", 20),
    ("request.approved", 30),
    ("request.denied", 10),
    ("policy.updated", 5),
    ("review.decided", 40),
    ("alert.raised", 5),
    ("auth.signed_out", 80),
)
_ON_ACTIVATION = frozenset({"activation.activated", "activation.deactivated", "activation.expired"})
_SLOTS: list[int] = [i for i, (_, weight) in enumerate(_KINDS) for _ in range(weight)]
_JUSTIFICATIONS = (
    "Investigating incident",
    "Monthly user clean-up",
    "Reset passwords for the helpdesk queue",
    "Change window: mailbox migration",
    'Audit request from "Compliance"',
    "Onboarding new hires — week 3",
)
_DETAILS = {
    "auth.signed_in": json.dumps({"method": "password"}, sort_keys=True),
    "auth.step_up": json.dumps({"factor": "totp"}, sort_keys=True),
    "policy.updated": json.dumps({"changed": ["activation_max_seconds"]}, sort_keys=True),
    "review.decided": json.dumps({"decision": "Approve", "review": "Quarterly"}, sort_keys=True),
    "alert.raised": json.dumps({"alert": "too_many_global_admins"}, sort_keys=True),
}


@dataclass
class ChainState:
    last_seq: int
    last_hash: str


def _typed(value: str | None, kind: str) -> Any:
    if value is None:
        return None
    if kind == "uuid":
        return uuid.UUID(value)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _prepared(inst: Instants, s: Sched) -> tuple[Any, ...]:
    """A schedule with its texts and tokens rendered once, not once per event."""
    u, r, hex_id, start, end = s
    s_at = inst.text(start)
    e_at = None if end is None else inst.text(end)
    e_t = "null" if e_at is None else instant_token(e_at)
    return (u, r, hex_id, uuid_token(hex_id), s_at, instant_token(s_at), e_at, e_t)


def _cross_check(row: tuple[Any, ...], digest: str, prev: str, nul: str | None) -> None:
    """Recompute one event with chain.link_hash from the typed values the writer would use."""
    values = {k: (None if v == nul else v) for k, v in zip(AUDIT_COLUMNS, row, strict=True)}
    for name in ("directory_id", "actor_id", "target_user_id", "role_id", "request_id"):
        values[name] = _typed(values[name], "uuid")
    values["schedule_id"] = _typed(values["schedule_id"], "uuid")
    for name in ("occurred_at", "start_at", "end_at"):
        values[name] = _typed(values[name], "instant")
    values["seq"] = int(str(values["seq"]))
    expected = link_hash(prev, values)
    if expected != digest:
        raise AssertionError(f"seeded hash differs from chain.link_hash at seq {values['seq']}")


def audit_rows(
    pop: Population,
    rng: random.Random,
    count: int,
    chain: ChainState,
    *,
    span_days: int = 365,
    copy_format: bool = False,
) -> Iterator[tuple[Any, ...]]:
    """`count` events after the chain's head, spread over the last `span_days` days.

    With copy_format the values are PostgreSQL COPY text already (no value needs escaping:
    every string comes from the generator's own vocabulary), else executemany values.
    """
    if count <= 0:
        return
    inst = Instants()
    now = pop.now_us
    start_us = now - span_days * DAY_US
    step = (span_days * DAY_US - 60_000_000) / max(count, 1)
    random_ = rng.random
    getrandbits = rng.getrandbits
    sha256 = hashlib.sha256
    users, upns, udir = pop.user_hex, pop.user_upn, pop.user_dir
    user_tok = [uuid_token(h) for h in users]
    upn_tok = [text_token(u) for u in upns]
    dirs, dir_tok = pop.directory_hex, [uuid_token(h) for h in pop.directory_hex]
    roles, role_tok = pop.role_hex, [uuid_token(h) for h in pop.role_hex]
    rname, rname_tok = pop.role_name, [text_token(n) for n in pop.role_name]
    admins = pop.admin_index
    admins = pop.admin_index
    if not (pop.activations or pop.eligibilities):
        raise ValueError("audit events need at least one schedule to refer to")
    acts = [_prepared(inst, s) for s in pop.activations or pop.eligibilities]
    eligs = [_prepared(inst, s) for s in pop.eligibilities] or acts
    n_users, n_acts, n_eligs = len(users), len(acts), len(eligs)
    # COPY text wants \N for NULL and digits for seq; executemany wants None and an int.
    nul = "\\N" if copy_format else None
    kinds = [(a, text_token(a), _DETAILS.get(a), text_token(_DETAILS.get(a))) for a, _ in _KINDS]
    justs = [(j, text_token(j)) for j in _JUSTIFICATIONS]
    ok_tok, fail_tok = text_token("success"), text_token("failure")
    worker, worker_tok = "system:worker", text_token("system:worker")
    seq, prev = chain.last_seq, chain.last_hash

    for i in range(count):
        seq += 1
        occ = inst.text(int(start_us + (i + random_()) * step))
        action, action_tok, detail, detail_tok = kinds[_SLOTS[int(random_() * 1000)]]
        result, result_tok = "success", ok_tok
        actor: str | None
        role = rlabel = sched = req = just = tnum = tsys = s_at = e_at = client = http = nul
        role_t = rname_t = sched_t = req_t = just_t = tnum_t = tsys_t = s_t = e_t = "null"
        client_t = http_t = "null"
        if action in ("auth.signed_in", "auth.step_up", "auth.signed_out"):
            u = int(random_() * n_users)
            actor, actor_t, label, label_t = users[u], user_tok[u], upns[u], upn_tok[u]
            if action == "auth.signed_in" and random_() < 0.04:
                result, result_tok = "failure", fail_tok
        else:
            # Activations and deactivations name an activation; the rest an eligibility.
            pool, size = (acts, n_acts) if action in _ON_ACTIVATION else (eligs, n_eligs)
            u, r, sched, sched_t, s_at, s_t, e_at, e_t = pool[int(random_() * size)]
            role, rlabel, role_t, rname_t = roles[r], rname[r], role_tok[r], rname_tok[r]
            e_at = nul if e_at is None else e_at
            if action in ("activation.activated", "activation.deactivated"):
                actor, actor_t, label, label_t = users[u], user_tok[u], upns[u], upn_tok[u]
            elif action in ("activation.expired", "alert.raised"):
                actor, actor_t, label, label_t = nul, "null", worker, worker_tok
            else:
                a = admins[int(random_() * len(admins))]
                actor, actor_t, label, label_t = users[a], user_tok[a], upns[a], upn_tok[a]
            if action in ("activation.activated", "request.approved", "request.denied"):
                req = "%032x" % getrandbits(128)  # noqa: UP031
                req_t = uuid_token(req)
                just, just_t = justs[int(random_() * len(justs))]
                if random_() < 0.2:
                    tnum, tsys = "INC-%06d" % int(random_() * 1e6), "ServiceNow"  # noqa: UP031
                    tnum_t, tsys_t = text_token(tnum), text_token(tsys)
        if actor is not nul:
            client = "10.%d.%d.%d" % (getrandbits(8), getrandbits(8), getrandbits(8))  # noqa: UP031
            client_t = text_token(client)
            http = "%032x" % getrandbits(128)  # noqa: UP031
            http_t = text_token(http)
        body = BODY_TEMPLATE % (
            action_tok, actor_t, label_t, client_t, detail_tok, dir_tok[udir[u]], e_t, http_t,
            just_t, instant_token(occ), req_t, result_tok, role_t, rname_t, sched_t, seq, s_t,
            upn_tok[u], user_tok[u], tnum_t, tsys_t,
        )  # fmt: skip
        digest = sha256((prev + body).encode("utf-8")).hexdigest()
        row = (
            str(seq) if copy_format else seq, occ, dirs[udir[u]], actor, label, action, result,
            users[u], upns[u], role, rlabel, req, sched, just, tnum, tsys, s_at, e_at,
            nul if detail is None else detail, client, http, prev, digest,
        )  # fmt: skip
        if seq % CROSS_CHECK_EVERY == 1:
            _cross_check(row, digest, prev, nul)
        prev = digest
        chain.last_seq, chain.last_hash = seq, prev
        yield row
