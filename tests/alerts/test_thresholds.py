"""Every alert at its threshold boundaries (just below, at, just above), with a frozen clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from openpim.alerts.definitions import AlertType
from openpim.assignments.models import Eligibility, MemberType
from openpim.directory.models import Directory, User
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from tests.alerts.helpers import affected_keys, grant, outcome, pim_setup, set_thresholds
from tests.factories import GA, HELPDESK_ADMIN, PASSWORD_ADMIN, PRA, USER_ADMIN, Env

SECOND = timedelta(seconds=1)


def _member(env: Env, directory: Directory, role=USER_ADMIN, **kwargs: object) -> User:  # type: ignore[no-untyped-def]
    user = env.user(directory, last_sign_in_at=env.now, **kwargs)  # type: ignore[arg-type]
    grant(env, user, role)
    return user


# --- too many Global Administrators -------------------------------------------------------------


@pytest.mark.parametrize(("extra_gas", "raised"), [(1, False), (2, False), (3, True)])
def test_global_admin_count_boundary(env: Env, extra_gas: int, raised: bool) -> None:
    # count N=3: 2 GAs is below, 3 is at (not more than N), 4 is above. Percent set to 0.
    directory, _admin = pim_setup(env)  # the admin is GA number one
    for _ in range(extra_gas):
        _member(env, directory, GA)
    set_thresholds(env, directory, AlertType.TOO_MANY_GLOBAL_ADMINS, global_admin_percent=0)
    result = outcome(env, directory, AlertType.TOO_MANY_GLOBAL_ADMINS)
    assert (result.change == "raised") is raised
    if raised:
        assert result.affected == 1 + extra_gas


@pytest.mark.parametrize(("others", "raised"), [(4, False), (3, False), (2, True)])
def test_global_admin_share_boundary(env: Env, others: int, raised: bool) -> None:
    # 3 GAs (count threshold 2) among 3 + `others` members, share threshold 50 %:
    # 3 of 7 (42.9 %) is below, 3 of 6 (50 %) is at, 3 of 5 (60 %) is above.
    directory, _ = pim_setup(env)  # admin (GA) + one PRA
    for _ in range(2):
        _member(env, directory, GA)
    for _ in range(others - 1):
        _member(env, directory, HELPDESK_ADMIN)
    set_thresholds(
        env, directory, AlertType.TOO_MANY_GLOBAL_ADMINS,
        global_admin_count=2, global_admin_percent=50,
    )  # fmt: skip
    result = outcome(env, directory, AlertType.TOO_MANY_GLOBAL_ADMINS)
    assert (result.change == "raised") is raised
    assert result.affected == (3 if raised else 0)


# --- roles activated too frequently ------------------------------------------------------------


@pytest.mark.parametrize(("activations", "raised"), [(2, False), (3, True), (4, True)])
def test_activation_count_boundary(env: Env, activations: int, raised: bool) -> None:
    directory, _ = pim_setup(env)
    user = env.user(directory)
    eligibility = env.eligible(user, PASSWORD_ADMIN, start=env.now - timedelta(days=30))
    for n in range(activations):
        env.activated(
            user, PASSWORD_ADMIN, eligibility=eligibility,
            start=env.now - timedelta(hours=2 * n + 1), duration=timedelta(minutes=30),
        )  # fmt: skip
    set_thresholds(env, directory, AlertType.TOO_FREQUENT_ACTIVATION, activation_count=3)
    keys = affected_keys(env, directory, AlertType.TOO_FREQUENT_ACTIVATION)
    assert keys == ({f"{user.id}:{PASSWORD_ADMIN}"} if raised else set())


@pytest.mark.parametrize(
    ("oldest_age", "raised"),
    [
        (timedelta(hours=6) - SECOND, True),
        (timedelta(hours=6), False),
        (timedelta(hours=6) + SECOND, False),
    ],
)
def test_activation_window_boundary(env: Env, oldest_age: timedelta, raised: bool) -> None:
    # Two activations; the window (6 h) counts the older one only while it is younger than 6 h.
    directory, _ = pim_setup(env)
    user = env.user(directory)
    eligibility = env.eligible(user, PASSWORD_ADMIN, start=env.now - timedelta(days=30))
    env.activated(
        user,
        PASSWORD_ADMIN,
        eligibility=eligibility,
        start=env.now - oldest_age,
        duration=timedelta(minutes=30),
    )
    env.activated(
        user,
        PASSWORD_ADMIN,
        eligibility=eligibility,
        start=env.now - timedelta(hours=1),
        duration=timedelta(minutes=30),
    )
    set_thresholds(
        env, directory, AlertType.TOO_FREQUENT_ACTIVATION, activation_count=2, window_hours=6
    )
    result = outcome(env, directory, AlertType.TOO_FREQUENT_ACTIVATION)
    assert (result.change == "raised") is raised


# --- roles that don't require MFA ---------------------------------------------------------------


def test_a_role_without_mfa_is_flagged_and_mfa_on_clears_it(env: Env) -> None:
    directory, _ = pim_setup(env)
    assert outcome(env, directory, AlertType.NO_MFA_ON_ACTIVATION).change == "clear"
    with env.ctx() as ctx:
        update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN, RoleSettingsUpdate(require_mfa_on_activation=False)
        )
    assert affected_keys(env, directory, AlertType.NO_MFA_ON_ACTIVATION) == {str(PASSWORD_ADMIN)}
    with env.ctx() as ctx:
        update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN, RoleSettingsUpdate(require_mfa_on_activation=True)
        )
    assert outcome(env, directory, AlertType.NO_MFA_ON_ACTIVATION).change == "resolved"


# --- administrators not using their privileged roles ------------------------------------------


def _backdate_eligibility(env: Env, user: User, start: object) -> None:
    with env.runtime.db.unit_of_work() as s:
        s.execute(
            update(Eligibility).where(Eligibility.principal_id == user.id).values(start_at=start)
        )


@pytest.mark.parametrize(
    ("since_activation", "raised"),
    [
        (timedelta(days=30) - SECOND, False),
        (timedelta(days=30), False),
        (timedelta(days=30) + SECOND, True),
    ],
)
def test_unused_role_days_boundary(env: Env, since_activation: timedelta, raised: bool) -> None:
    directory, _ = pim_setup(env)
    user = env.user(directory, last_sign_in_at=env.now)
    grant(env, user, USER_ADMIN)
    _backdate_eligibility(env, user, env.now - timedelta(days=200))
    with env.runtime.db.reader() as s:
        eligibility = s.query(Eligibility).filter_by(principal_id=user.id).one()
        s.expunge(eligibility)
    env.activated(
        user,
        USER_ADMIN,
        eligibility=eligibility,
        start=env.now - since_activation,
        duration=timedelta(minutes=30),
    )
    keys = affected_keys(env, directory, AlertType.UNUSED_ROLES)
    member = f"{user.id}:{USER_ADMIN}:{MemberType.ELIGIBLE}"
    assert (member in keys) is raised


@pytest.mark.parametrize(
    ("member_for", "raised"),
    [
        (timedelta(days=10) - SECOND, False),
        (timedelta(days=10), False),
        (timedelta(days=10) + SECOND, True),
    ],
)
def test_unused_role_counts_from_the_membership_start(
    env: Env, member_for: timedelta, raised: bool
) -> None:
    directory, _ = pim_setup(env)
    user = env.user(directory, last_sign_in_at=env.now)
    grant(env, user, USER_ADMIN)
    _backdate_eligibility(env, user, env.now - member_for)
    set_thresholds(env, directory, AlertType.UNUSED_ROLES, days=10)
    keys = affected_keys(env, directory, AlertType.UNUSED_ROLES)
    assert (f"{user.id}:{USER_ADMIN}:{MemberType.ELIGIBLE}" in keys) is raised


# --- potential stale accounts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("since_sign_in", "raised"),
    [
        (timedelta(days=90) - SECOND, False),
        (timedelta(days=90), False),
        (timedelta(days=90) + SECOND, True),
    ],
)
def test_stale_account_days_boundary(env: Env, since_sign_in: timedelta, raised: bool) -> None:
    directory, _ = pim_setup(env)
    user = env.user(directory, last_sign_in_at=env.now - since_sign_in)
    grant(env, user, USER_ADMIN)
    keys = affected_keys(env, directory, AlertType.STALE_ACCOUNTS)
    assert keys == ({f"{user.id}:{USER_ADMIN}:{MemberType.ELIGIBLE}"} if raised else set())


def test_stale_accounts_ignore_disabled_users_and_unprivileged_roles(env: Env) -> None:
    directory, _ = pim_setup(env)
    old = env.now - timedelta(days=400)
    disabled = env.user(directory, last_sign_in_at=old)
    grant(env, disabled, USER_ADMIN)
    with env.runtime.db.unit_of_work() as s:
        s.execute(update(User).where(User.id == disabled.id).values(enabled=False))
    assert outcome(env, directory, AlertType.STALE_ACCOUNTS).change == "clear"


# --- fewer than two PRAs --------------------------------------------------------------------------


@pytest.mark.parametrize(("pras", "raised"), [(1, True), (2, False), (3, False)])
def test_pra_count_boundary(env: Env, pras: int, raised: bool) -> None:
    directory, _ = pim_setup(env, pras=pras)
    keys = affected_keys(env, directory, AlertType.TOO_FEW_PRAS)
    assert keys == ({"pra_holders:1"} if raised else set())


def test_an_external_or_eligible_pra_counts_as_it_should(env: Env) -> None:
    directory, _ = pim_setup(env, pras=1)
    external = env.user(directory, "guest", external=True)
    grant(env, external, PRA)
    # An external account may hold the role but can never manage PIM: still one manager.
    assert affected_keys(env, directory, AlertType.TOO_FEW_PRAS) == {"pra_holders:1"}
    eligible = env.user(directory, "second")
    grant(env, eligible, PRA)  # eligible: can activate and manage, so two now
    assert outcome(env, directory, AlertType.TOO_FEW_PRAS).change == "resolved"
