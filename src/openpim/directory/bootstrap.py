"""The first run: the first directory, its first administrator and their permanent role."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text

from openpim.assignments.models import Assignment, AssignmentType
from openpim.audit.writer import AuditEntry, record
from openpim.auth import passwords
from openpim.auth.mfa import new_secret, seal_secret
from openpim.directory.account_kind import upn_domain
from openpim.directory.common import audit, normalize_domain, normalize_upn
from openpim.directory.directories import new_directory
from openpim.directory.models import Directory, User
from openpim.directory.users import new_user
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, ValidationFailed
from openpim.roles.ids import GLOBAL_ADMINISTRATOR


def bootstrap(
    ctx: Ctx,
    directory_name: str,
    domain: str,
    admin_upn: str,
    admin_display_name: str,
    admin_password: str,
) -> tuple[Directory, User, str]:
    """The first directory, its first user and that user's permanent Global Administrator role.

    Returns the admin's TOTP secret: it is already enrolled (there is nobody to confirm it with
    otherwise) and shown this once. Refused once any directory exists.
    """
    if ctx.session.get_bind().dialect.name == "postgresql":
        # Two first runs at once must not both see an empty table (SQLite writers are serial).
        ctx.session.execute(text("LOCK TABLE directories IN SHARE ROW EXCLUSIVE MODE"))
    if ctx.session.execute(select(Directory.id).limit(1)).first() is not None:
        raise Conflict("OpenPIM is already set up.", code="already_bootstrapped")
    domain = normalize_domain(domain)
    upn = normalize_upn(admin_upn, field="admin_upn")
    if upn_domain(upn) != domain:
        raise ValidationFailed(
            f"The first administrator must have an organizational account on {domain}.",
            code="admin_not_on_domain",
            field="admin_upn",
        )
    passwords.check_policy(admin_password, field="admin_password")
    directory = new_directory(ctx, directory_name, [domain])
    user = new_user(ctx, directory.id, upn, admin_display_name, admin_password)
    secret = new_secret()
    user.totp_secret = seal_secret(ctx.settings, secret)
    user.totp_enrolled_at = ctx.now
    assignment = Assignment(
        id=uuid.uuid4(),
        directory_id=directory.id,
        principal_id=user.id,
        role_id=GLOBAL_ADMINISTRATOR,
        start_at=ctx.now,
        end_at=None,
        assignment_type=AssignmentType.ASSIGNED,
        request_id=None,
        created_via="bootstrap",
        created_at=ctx.now,
    )
    ctx.session.add(assignment)
    ctx.session.flush()
    audit(ctx, "mfa.enrolled", directory.id, user, by_admin=True, re_enrollment=False)
    record(
        ctx,
        AuditEntry(
            action="assignment.created",
            directory_id=directory.id,
            target_user_id=user.id,
            target_label=user.user_principal_name,
            role_id=GLOBAL_ADMINISTRATOR,
            role_label="Global Administrator",
            schedule_id=assignment.id,
            start_at=assignment.start_at,
            end_at=None,
            detail={"created_via": "bootstrap", "assignment_type": "Assigned"},
        ),
    )
    return directory, user, secret


def is_bootstrapped(ctx: Ctx) -> bool:
    """Whether the first run is done (any directory exists): the portal's setup page asks."""
    return ctx.session.execute(select(Directory.id).limit(1)).first() is not None
