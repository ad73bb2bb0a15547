from __future__ import annotations

import pytest
from sqlalchemy import select

from openpim.access.service import active_role_ids
from openpim.assignments import service
from openpim.kit.errors import Conflict, Forbidden
from openpim.notifications.models import OutboxMessage
from tests.factories import GA, PASSWORD_ADMIN, PRA, SECURITY_ADMIN, Env


def test_global_admin_enables_pim_and_becomes_pra(env: Env) -> None:
    directory = env.directory()
    ga = env.user(directory, "ga")
    env.permanent(ga, GA)
    with env.ctx(ga) as ctx:
        service.enable_pim(ctx, directory.id)
    with env.runtime.db.reader() as s:
        assert active_role_ids(s, ga.id, env.now) == {GA, PRA, SECURITY_ADMIN}
        assert "pim.enabled" in s.scalars(select(OutboxMessage.event_type)).all()
    with pytest.raises(Conflict), env.ctx(ga) as ctx:
        service.enable_pim(ctx, directory.id)


def test_only_active_organizational_global_admin_enables(env: Env) -> None:
    directory = env.directory()
    guest = env.user(directory, "guest", external=True)
    env.permanent(guest, GA)
    eligible = env.user(directory, "eligible")
    env.eligible(eligible, GA)
    with pytest.raises(Forbidden) as err, env.ctx(guest) as ctx:
        service.enable_pim(ctx, directory.id)
    assert err.value.code == "external_account"
    with pytest.raises(Forbidden) as err, env.ctx(eligible) as ctx:
        service.enable_pim(ctx, directory.id)
    assert err.value.code == "not_global_administrator"


def test_wizard_counts_and_bulk_conversion_all_or_nothing(env: Env) -> None:
    directory, admin = env.pim_directory()
    bob = env.user(directory, "bob")
    carol = env.user(directory, "carol")
    env.permanent(bob, PASSWORD_ADMIN)
    env.permanent(carol, PASSWORD_ADMIN)
    with env.ctx(admin) as ctx:
        overview = {r.display_name: r for r in service.wizard_overview(ctx, directory.id)}
    assert overview["Password Administrator"].permanent_count == 2
    assert overview["Global Administrator"].permanent_count == 1
    # Converting the only Global Administrator is refused, so nothing is converted.
    with pytest.raises(Conflict), env.ctx(admin) as ctx:
        service.wizard_convert(ctx, directory.id, [(bob.id, PASSWORD_ADMIN), (admin.id, GA)])
    with env.ctx(admin) as ctx:
        assert service.wizard_overview(ctx, directory.id)
        counts = {r.display_name: r for r in service.wizard_overview(ctx, directory.id)}
    assert counts["Password Administrator"].permanent_count == 2
    with env.ctx(admin) as ctx:
        service.wizard_convert(
            ctx, directory.id, [(bob.id, PASSWORD_ADMIN), (carol.id, PASSWORD_ADMIN)]
        )
    with env.ctx(admin) as ctx:
        counts = {r.display_name: r for r in service.wizard_overview(ctx, directory.id)}
    assert counts["Password Administrator"].permanent_count == 0
    assert counts["Password Administrator"].eligible_count == 2
