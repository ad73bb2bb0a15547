"""What a detector returns, and the membership query several detectors share.

A finding names what is wrong (a user in a role, an assignment, a role's settings) and when it
began as far as the data tells ("onset"): dismissal covers the findings that existed when it was
given, and a finding that begins later opens a new incident (see alerts/scanning.py).

Every detector reads "now" from ctx.now and uses the same live predicate as the access query
(start_at <= now < end_at, no end = permanent).
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, literal, or_, select, union_all

from openpim.assignments.models import Assignment, AssignmentType, Eligibility, MemberType
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.roles.models import RoleDefinition


@dataclass(frozen=True)
class Finding:
    key: str
    user_id: uuid.UUID | None = None
    user_label: str | None = None
    role_id: uuid.UUID | None = None
    role_label: str | None = None
    member_type: str | None = None
    schedule_id: uuid.UUID | None = None
    onset_at: datetime | None = None
    # A dict, or a function making it: big scans build details only for the items they store.
    detail: dict[str, Any] | Callable[[], dict[str, Any]] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        return self.detail() if callable(self.detail) else self.detail


Detector = Callable[[Ctx, uuid.UUID, dict[str, int]], list[Finding]]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while a scan builds tens of thousands of findings.

    None of them forms a reference cycle, but every few hundred allocations would otherwise
    trigger a collection that walks them all again: at 100,000 members that is a third of the
    scan. Reference counting still frees everything; collection resumes right after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def member_key(user_id: uuid.UUID, role_id: uuid.UUID, member_type: str) -> str:
    return f"{user_id}:{role_id}:{member_type}"


def of_type(kind: AssignmentType) -> ColumnElement[bool]:
    """assignment_type = '<kind>' with the value inline, not bound: the partial indexes on
    assignments (activations by time, assigned by role) only apply to a literal condition."""
    return Assignment.assignment_type == literal(kind.value, literal_execute=True)


def live(model: type[Assignment] | type[Eligibility], now: datetime) -> ColumnElement[bool]:
    return and_(model.start_at <= now, or_(model.end_at.is_(None), model.end_at > now))


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- memberships ------------------------------------------------------------------------------


def memberships(
    directory_id: uuid.UUID,
    now: datetime,
    *,
    role_ids: set[uuid.UUID] | None = None,
    privileged_only: bool = False,
    lean: bool = False,
) -> Select[Any]:
    """Current eligible and assigned-active memberships of enabled users.

    Activations are left out: each one draws on an eligibility that is itself listed, and a fix
    acts on that eligibility (removing it ends its activations). `lean` leaves out the labels
    (big scans fill them in for the items they store only: see fill_labels).
    """

    def part(model: type[Assignment] | type[Eligibility], member_type: str) -> Select[Any]:
        stmt: Select[Any] = select(  # type: ignore[assignment]
            model.principal_id,
            model.role_id,
            literal(member_type).label("member_type"),
            model.id.label("schedule_id"),
            model.start_at,
        ).where(model.directory_id == directory_id, live(model, now))
        if model is Assignment:
            stmt = stmt.where(of_type(AssignmentType.ASSIGNED))
        if role_ids is not None:
            stmt = stmt.where(model.role_id.in_(role_ids))
        return stmt

    union = union_all(
        part(Eligibility, MemberType.ELIGIBLE), part(Assignment, MemberType.ACTIVE)
    ).subquery("m")
    columns: list[Any] = [
        union.c.principal_id,
        union.c.role_id,
        union.c.member_type,
        union.c.schedule_id,
        union.c.start_at,
        User.last_sign_in_at,
        User.created_at.label("user_created_at"),
    ]
    if not lean:
        columns += [User.user_principal_name, User.account_kind, RoleDefinition.display_name]
    stmt: Select[Any] = (
        select(*columns)
        .select_from(union)
        .join(User, User.id == union.c.principal_id)
        .join(RoleDefinition, RoleDefinition.id == union.c.role_id)
        .where(User.enabled.is_(True))
    )
    if privileged_only:
        stmt = stmt.where(RoleDefinition.is_privileged.is_(True))
    return stmt


def dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per key (two overlapping schedules of one member count once)."""
    out: dict[str, Finding] = {}
    for finding in findings:
        kept = out.get(finding.key)
        if kept is None or (
            finding.onset_at is not None
            and (kept.onset_at is None or finding.onset_at > kept.onset_at)
        ):
            out[finding.key] = finding
    return sorted(out.values(), key=lambda f: f.key)


def fill_labels(ctx: Ctx, findings: list[Finding]) -> list[Finding]:
    """Add user and role names to findings that lack them (only the few an incident stores)."""
    user_ids = {f.user_id for f in findings if f.user_label is None and f.user_id is not None}
    role_ids = {f.role_id for f in findings if f.role_label is None and f.role_id is not None}
    if not user_ids and not role_ids:
        return findings
    users = dict(
        ctx.session.execute(
            select(User.id, User.user_principal_name).where(User.id.in_(user_ids))
        ).all()
    )
    roles = dict(
        ctx.session.execute(
            select(RoleDefinition.id, RoleDefinition.display_name).where(
                RoleDefinition.id.in_(role_ids)
            )
        ).all()
    )
    return [
        replace(
            f,
            user_label=f.user_label or (users.get(f.user_id) if f.user_id else None),
            role_label=f.role_label or (roles.get(f.role_id) if f.role_id else None),
        )
        for f in findings
    ]
