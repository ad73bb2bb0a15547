"""The actor of calls made before anyone has signed in (sign-in itself, public pages)."""

from __future__ import annotations

from openpim.kit.context import Actor, ActorKind


def anonymous_actor() -> Actor:
    """The actor for unauthenticated calls (sign-in): a user kind with no user, so it holds no
    role and every permission check refuses it."""
    return Actor(kind=ActorKind.USER, label="anonymous")
