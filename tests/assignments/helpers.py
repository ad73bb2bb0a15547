"""Shortcuts for assignment tests: call the service as someone, inside one unit of work."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from openpim.assignments import service
from openpim.assignments.models import MemberType, RoleRequest
from openpim.directory.models import User
from tests.factories import Env


def activate(
    env: Env,
    user: User,
    role_id: uuid.UUID,
    duration: timedelta = timedelta(hours=1),
    *,
    mfa: bool = True,
    **kwargs: Any,
) -> RoleRequest:
    kwargs.setdefault("justification", "incident 42")
    with env.ctx(env.actor(user, mfa=mfa)) as ctx:
        return service.self_activate(
            ctx, directory_id=user.directory_id, role_id=role_id, duration=duration, **kwargs
        )


def assign(
    env: Env,
    admin: User,
    user: User,
    role_id: uuid.UUID,
    member_type: MemberType = MemberType.ELIGIBLE,
    **kwargs: Any,
) -> RoleRequest:
    kwargs.setdefault("justification", "on-call rota")
    with env.ctx(env.actor(admin, mfa=True)) as ctx:
        return service.admin_assign(
            ctx,
            directory_id=user.directory_id,
            principal_id=user.id,
            role_id=role_id,
            member_type=member_type,
            **kwargs,
        )
