"""Who is looking at the portal, and the unit of work their page runs in.

Mirrors the API's Caller (api/deps.py): the session cookie is checked inside the page's own
transaction, a read page in a read transaction (and a short write unit afterwards only when the
token's last-use time is due), a form post in its write unit. What the layout needs about the
viewer (name, directory, what they may do) is loaded in the same transaction.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from openpim.api.deps import client_address, get_runtime, request_id
from openpim.auth import tokens
from openpim.auth.anonymous import anonymous_actor
from openpim.auth.permissions import can_manage, can_read_all
from openpim.auth.step_up import step_up as auth_step_up  # portal.step_up wraps it
from openpim.directory import service as directory_service
from openpim.kit.context import Actor, Ctx
from openpim.kit.errors import DomainError, Unauthorized
from openpim.runtime import Runtime
from openpim.web.security import csrf_token, session_cookie


@dataclasses.dataclass(frozen=True)
class Viewer:
    actor: Actor
    user_id: uuid.UUID
    directory_id: uuid.UUID
    upn: str
    display_name: str
    account_kind: str
    mfa_enrolled: bool
    directory_name: str
    pim_enabled: bool
    wizard_completed: bool
    can_manage: bool
    can_read_all: bool
    mfa_verified_at: datetime | None
    now: datetime
    # (id, name) of every directory where the viewer's name has an account: the switcher.
    directories: tuple[tuple[uuid.UUID, str], ...] = ()


def _viewer(ctx: Ctx) -> Viewer:
    actor = ctx.actor
    assert actor.user_id is not None and actor.directory_id is not None
    user = directory_service.get_user(ctx, actor.directory_id, actor.user_id)
    directory = directory_service.get_directory(ctx, actor.directory_id)
    return Viewer(
        actor=actor,
        user_id=user.id,
        directory_id=directory.id,
        upn=user.user_principal_name,
        display_name=user.display_name,
        account_kind=user.account_kind,
        mfa_enrolled=user.mfa_enrolled,
        directory_name=directory.name,
        pim_enabled=directory.pim_enabled_at is not None,
        wizard_completed=directory.wizard_completed_at is not None,
        can_manage=can_manage(ctx, directory.id),
        can_read_all=can_read_all(ctx, directory.id),
        mfa_verified_at=actor.mfa_verified_at,
        now=ctx.now,
        directories=tuple((d.id, d.name) for d in directory_service.my_directories(ctx)),
    )


def mfa_fresh(ctx: Ctx) -> bool:
    """Whether this sign-in session proved MFA recently enough for an activation."""
    proved = ctx.actor.mfa_verified_at
    return proved is not None and ctx.now - proved <= ctx.settings.mfa_freshness


@dataclasses.dataclass(frozen=True)
class Portal:
    """One portal request: the runtime, the session cookie and where the request came from."""

    runtime: Runtime
    request: Request
    token: str | None
    client_address: str | None
    request_id: str | None

    @property
    def csrf(self) -> str:
        return csrf_token(self.request)

    def _require_token(self) -> str:
        if self.token is None:
            raise Unauthorized("Sign in to continue.", code="not_signed_in")
        return self.token

    @contextmanager
    def anonymous(self) -> Iterator[Ctx]:
        """A write unit for pages that work before sign-in (setup, sign-in)."""
        with self.runtime.unit(
            anonymous_actor(), client_address=self.client_address, request_id=self.request_id
        ) as ctx:
            yield ctx

    @contextmanager
    def anonymous_read(self) -> Iterator[Ctx]:
        """A read transaction before sign-in (the password check of a sign-in runs here)."""
        with self.runtime.read(
            anonymous_actor(), client_address=self.client_address, request_id=self.request_id
        ) as ctx:
            yield ctx

    @contextmanager
    def read(self) -> Iterator[tuple[Ctx, Viewer]]:
        """A read transaction acting as the signed-in viewer."""
        token = self._require_token()
        with self.runtime.read(anonymous_actor()) as ctx:
            actor, touch_due = tokens.check_token(ctx, token)
            if actor.token_kind != tokens.SESSION:
                raise Unauthorized("Sign in to continue.", code="not_signed_in")
            ctx = dataclasses.replace(
                ctx, actor=actor, client_address=self.client_address, request_id=self.request_id
            )
            viewer = _viewer(ctx)
            self.request.state.viewer = viewer
            yield ctx, viewer
        if touch_due:
            with self.runtime.unit(actor, client_address=self.client_address) as ctx:
                tokens.touch(ctx, actor)

    @contextmanager
    def unit(self) -> Iterator[tuple[Ctx, Viewer]]:
        """A write transaction acting as the signed-in viewer."""
        token = self._require_token()
        with self.runtime.unit(
            anonymous_actor(), client_address=self.client_address, request_id=self.request_id
        ) as ctx:
            actor = tokens.authenticate(ctx, token)
            if actor.token_kind != tokens.SESSION:
                raise Unauthorized("Sign in to continue.", code="not_signed_in")
            ctx = dataclasses.replace(ctx, actor=actor)
            viewer = _viewer(ctx)
            self.request.state.viewer = viewer
            yield ctx, viewer


def step_up(portal: Portal, code: str) -> tuple[Portal, str | None, DomainError | None]:
    """Prove MFA in this session with a TOTP code, then rotate the session.

    Returns the portal acting with the new token, the token for the cookie, or the refusal
    (whose failure record has committed by then).
    """
    raw: str | None = None
    with portal.unit() as (ctx, _viewer):
        assert ctx.actor.token_id is not None
        outcome = auth_step_up(ctx, ctx.actor.token_id, code)
        if outcome.ok:
            raw, _token = tokens.rotate_session(ctx)
    if not outcome.ok:
        return portal, None, outcome.error
    assert raw is not None
    return dataclasses.replace(portal, token=raw), raw, None


def get_portal(request: Request) -> Portal:
    return Portal(
        runtime=get_runtime(request),
        request=request,
        token=session_cookie(request),
        client_address=client_address(request),
        request_id=request_id(request),
    )


PortalDep = Annotated[Portal, Depends(get_portal)]
