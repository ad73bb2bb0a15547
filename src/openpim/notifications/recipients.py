"""Who receives an event's email.

Events about a role's assignments, activations and requests follow the role's nine
notification rules (role_rules.py says which rule, and what "critical" means); the others go to
their catalog audience. Whatever the sources, an event has at most MAX_RECIPIENTS addresses.

Users have no separate mail attribute: a user principal name is email-shaped and is the
address. Disabled users receive nothing. Role holders are found through the one "active roles"
answer (access.service), never a query of our own about what "active" means.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Uuid, column, or_, select, table
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from openpim.access.service import active_role_ids
from openpim.assignments.models import Assignment
from openpim.assignments.queries import able_approvers
from openpim.directory.models import User
from openpim.notifications.addresses import canonical_address, is_address
from openpim.notifications.catalog import Audience, EventSpec
from openpim.notifications.facts import Facts, as_uuid
from openpim.notifications.role_rules import Governed, governing, is_critical
from openpim.policies.notification_rules import Level, NotificationRules, RecipientType
from openpim.policies.service import read_role_settings
from openpim.policies.settings import RoleSettings
from openpim.roles.ids import (
    GLOBAL_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR,
    SECURITY_ADMINISTRATOR,
)

MAX_RECIPIENTS = 1000
ADMIN_ROLES = frozenset(
    {PRIVILEGED_ROLE_ADMINISTRATOR, SECURITY_ADMINISTRATOR, GLOBAL_ADMINISTRATOR}
)
MANAGER_ROLES = frozenset({PRIVILEGED_ROLE_ADMINISTRATOR})
# Reading more candidates than this for one event would only feed the cap above.
_CANDIDATE_LIMIT = 5000


@dataclass(frozen=True)
class Recipients:
    addresses: list[str]
    # Addresses left out by the cap of MAX_RECIPIENTS.
    truncated: int = 0
    why_none: str | None = None


def holders(
    session: Session, directory_id: uuid.UUID, roles: frozenset[uuid.UUID], now: datetime
) -> list[uuid.UUID]:
    """Users of the directory holding any of `roles` active at `now`."""
    candidates = session.scalars(
        select(Assignment.principal_id)
        .where(
            Assignment.directory_id == directory_id,
            Assignment.role_id.in_(roles),
            or_(Assignment.end_at.is_(None), Assignment.end_at > now),
        )
        .distinct()
        .limit(_CANDIDATE_LIMIT)
    ).all()
    return [uid for uid in candidates if active_role_ids(session, uid, now) & roles]


class Lookups:
    """The role settings and role holders that recipients need, read once per fan-out batch
    (a batch has one `now`; many of its events name the same role and the same admins)."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self._settings: dict[tuple[uuid.UUID, uuid.UUID], RoleSettings] = {}
        self._holders: dict[tuple[uuid.UUID, frozenset[uuid.UUID]], list[uuid.UUID]] = {}

    def settings(self, directory_id: uuid.UUID, role_id: uuid.UUID) -> RoleSettings:
        key = (directory_id, role_id)
        if key not in self._settings:
            self._settings[key] = read_role_settings(self.session, directory_id, role_id)
        return self._settings[key]

    def holders(self, directory_id: uuid.UUID, roles: frozenset[uuid.UUID]) -> list[uuid.UUID]:
        key = (directory_id, roles)
        if key not in self._holders:
            self._holders[key] = holders(self.session, directory_id, roles, self.now)
        return self._holders[key]


def user_addresses(
    session: Session, directory_id: uuid.UUID, user_ids: Iterable[uuid.UUID]
) -> list[str]:
    """Addresses of enabled users of the directory; users already in the session (the
    fan-out loads a batch's members up front) cost no query."""
    out: list[str] = []
    missing: list[uuid.UUID] = []
    for uid in dict.fromkeys(user_ids):
        user = session.identity_map.get(identity_key(User, uid))
        if user is None:
            missing.append(uid)
        elif isinstance(user, User) and user.enabled and user.directory_id == directory_id:
            out.append(user.user_principal_name)
    for start in range(0, len(missing), 500):
        rows = session.execute(
            select(User.user_principal_name).where(
                User.id.in_(missing[start : start + 500]),
                User.directory_id == directory_id,
                User.enabled.is_(True),
            )
        ).all()
        out.extend(row[0] for row in rows)
    return out


# Read by name, not imported: the reviews feature owns the table, this only needs two columns.
_review_items = table(
    "access_review_items", column("review_id", Uuid()), column("principal_id", Uuid())
)


def _reviewers(session: Session, payload: dict[str, Any]) -> list[uuid.UUID]:
    """Named reviewers; when members review themselves, every member under review."""
    named = [u for u in (as_uuid(v) for v in payload.get("reviewer_ids") or []) if u]
    review_id = as_uuid(payload.get("review_id"))
    if named or payload.get("reviewer_mode") != "self" or review_id is None:
        return named
    return list(
        session.scalars(
            select(_review_items.c.principal_id)
            .where(_review_items.c.review_id == review_id)
            .distinct()
            .limit(_CANDIDATE_LIMIT)
        )
    )


def _payload_ids(payload: dict[str, Any]) -> list[uuid.UUID]:
    raw = payload.get("recipient_ids") or []
    return (
        [u for u in (as_uuid(v) for v in raw if v) if u is not None]
        if isinstance(raw, list)
        else []
    )


def _payload_emails(payload: dict[str, Any]) -> list[str]:
    raw = payload.get("recipient_emails") or []
    return [str(v) for v in raw] if isinstance(raw, list) else []


def _default_users(
    recipient: RecipientType,
    *,
    event_type: str,
    payload: dict[str, Any],
    directory_id: uuid.UUID,
    facts: Facts,
    settings: RoleSettings | None,
    lookups: Lookups,
) -> list[uuid.UUID]:
    """The default recipients of one recipient type for this event."""
    if recipient == RecipientType.ADMIN:
        return lookups.holders(directory_id, ADMIN_ROLES)
    if recipient == RecipientType.REQUESTOR:
        # A decision goes to whoever asked; anything else to the member it is about.
        who = facts.requester_id if event_type.startswith("request.") else facts.principal_id
        return [who] if who is not None else []
    if event_type == "request.pending_approval":
        named = [u for u in (as_uuid(v) for v in payload.get("approver_ids") or []) if u]
        if not named and settings is not None:
            named = list(settings.approver_ids)
        requesters = (facts.principal_id, facts.requester_id)
        able = able_approvers(lookups.session, directory_id, named, requesters)
        if able:
            return able
        # None named, or none of them can act: the PRAs decide (approval.can_decide).
    return lookups.holders(directory_id, MANAGER_ROLES)


def _by_role_rules(
    governed: Governed,
    *,
    spec: EventSpec,
    event_type: str,
    payload: dict[str, Any],
    directory_id: uuid.UUID,
    facts: Facts,
    lookups: Lookups,
) -> tuple[list[uuid.UUID], list[str], list[str]]:
    """Users, extra addresses, and why a recipient type got nothing, by the role's rules."""
    settings = lookups.settings(directory_id, facts.role_id) if facts.role_id is not None else None
    rules = settings.notification_rules if settings is not None else NotificationRules()
    critical = is_critical(spec, highly_privileged=settings is not None and settings.mfa_locked)
    users: list[uuid.UUID] = []
    extra: list[str] = []
    reasons: list[str] = []
    for recipient in governed.recipients:
        rule = rules.get(governed.stage, recipient)
        name = f"{governed.stage.value}/{recipient.value}"
        if rule.level == Level.NONE:
            reasons.append(f"the role's notification rule {name} is off")
            continue
        if rule.level == Level.CRITICAL and not critical:
            reasons.append(f"the role's notification rule {name} sends critical emails only")
            continue
        if rule.default_recipients:
            users += _default_users(
                recipient,
                event_type=event_type,
                payload=payload,
                directory_id=directory_id,
                facts=facts,
                settings=settings,
                lookups=lookups,
            )
        elif not rule.extra_recipients:
            reasons.append(f"the role's notification rule {name} has no recipient")
        extra += list(rule.extra_recipients)
    return users, extra, reasons


def resolve(
    session: Session,
    *,
    spec: EventSpec,
    event_type: str,
    payload: dict[str, Any],
    directory_id: uuid.UUID,
    facts: Facts,
    now: datetime,
    lookups: Lookups | None = None,
) -> Recipients:
    lookups = lookups if lookups is not None else Lookups(session, now)
    users: list[uuid.UUID] = []
    extra: list[str] = []
    audience = spec.audience
    why_none: str | None = None
    governed = governing(event_type, facts)
    if governed is not None:
        users, extra, reasons = _by_role_rules(
            governed,
            spec=spec,
            event_type=event_type,
            payload=payload,
            directory_id=directory_id,
            facts=facts,
            lookups=lookups,
        )
        why_none = "; ".join(reasons) or None
    elif audience == Audience.ADMINS or (
        audience == Audience.HIGH_ALERT and str(payload.get("severity", "")).lower() == "high"
    ):
        users += lookups.holders(directory_id, ADMIN_ROLES)
    elif audience == Audience.HIGH_ALERT:
        why_none = "only high-severity alerts are emailed"
    elif audience == Audience.REVIEWERS:
        users += _reviewers(session, payload)
    elif audience == Audience.MANAGERS:
        users += lookups.holders(directory_id, MANAGER_ROLES)
    elif audience == Audience.REQUESTER and facts.requester_id is not None:
        users.append(facts.requester_id)
    elif (
        audience == Audience.MEMBER
        and facts.principal_id is not None
        # The member deactivated it themselves: telling them is noise.
        and not (event_type == "activation.ended" and payload.get("reason") == "deactivated")
    ):
        users.append(facts.principal_id)
    users += _payload_ids(payload)
    extra += _payload_emails(payload)
    if payload.get("notify_admins") is True:
        users += lookups.holders(directory_id, ADMIN_ROLES)
    addresses = _unique(user_addresses(session, directory_id, users) + extra)
    if not addresses and why_none is None:
        why_none = "no recipient for this event"
    return Recipients(
        addresses=addresses[:MAX_RECIPIENTS],
        truncated=max(0, len(addresses) - MAX_RECIPIENTS),
        why_none=why_none if not addresses else None,
    )


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for raw in values:
        value = raw.strip()
        if is_address(value):
            address = canonical_address(value)
            seen.setdefault(address.casefold(), address)
    # Sorted so the cap keeps the same addresses however the sources were ordered.
    return sorted(seen.values(), key=str.casefold)
