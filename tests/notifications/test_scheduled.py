"""Expiry reminders (14 days and 1 day before the end) and the weekly digest: each exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from openpim.assignments.models import Eligibility
from openpim.notifications import delivery, digest, reminders
from tests.factories import GA, HELPDESK_ADMIN, PASSWORD_ADMIN, Env
from tests.notifications.helpers import deliveries, email_channel, events
from tests.notifications.servers import SmtpServer


def _reminders(env: Env) -> Counter[tuple[str, int]]:
    return Counter(
        (str(e.payload["schedule_id"]), int(e.payload["threshold_days"]))
        for e in events(env, reminders.REMINDER_EVENT)
    )


def test_an_eligibility_gets_its_14_and_1_day_reminders_once_each(
    env: Env, smtp: SmtpServer
) -> None:
    directory, _admin = env.pim_directory()
    email_channel(env, directory, smtp.port)
    user = env.user(directory, "frank")
    row = env.eligible(user, PASSWORD_ADMIN, duration=timedelta(days=20))
    key = str(row.id)

    assert reminders.scan(env.runtime) == 0
    env.clock.advance(timedelta(days=6))  # 14 days left
    assert reminders.scan(env.runtime) == 1
    assert reminders.scan(env.runtime) == 0
    env.clock.advance(timedelta(days=12))  # 2 days left: still the 14-day window
    assert reminders.scan(env.runtime) == 0
    env.clock.advance(timedelta(days=1, hours=1))  # 23 hours left
    assert reminders.scan(env.runtime) == 1
    assert reminders.scan(env.runtime) == 0
    assert _reminders(env) == {(key, 14): 1, (key, 1): 1}

    delivery.drain(env.runtime)
    subjects = sorted(str(r.message["Subject"]) for r in smtp.received)
    assert subjects == [
        "PIM: Your eligible role Password Administrator ends in 14 days",
        "PIM: Your eligible role Password Administrator ends in 23 hours",
    ]
    assert {r.recipients[0] for r in smtp.received} == {user.user_principal_name}


def test_only_the_nearest_threshold_fires_and_an_extension_reminds_again(env: Env) -> None:
    directory, _admin = env.pim_directory()
    user = env.user(directory, "gina")
    short = env.permanent(user, HELPDESK_ADMIN, end=env.now + timedelta(hours=12))
    row = env.eligible(user, PASSWORD_ADMIN, duration=timedelta(hours=20))
    env.activated(user, PASSWORD_ADMIN, eligibility=row, duration=timedelta(hours=2))
    assert reminders.scan(env.runtime) == 2
    assert _reminders(env) == {(str(short.id), 1): 1, (str(row.id), 1): 1}

    with env.runtime.db.unit_of_work() as s:  # extended to a new end date
        s.execute(
            update(Eligibility)
            .where(Eligibility.id == row.id)
            .values(end_at=env.now + timedelta(days=10))
        )
    assert reminders.scan(env.runtime) == 1
    assert _reminders(env)[(str(row.id), 14)] == 1


def test_disabled_users_and_ended_schedules_get_no_reminder(env: Env) -> None:
    directory, _admin = env.pim_directory()
    gone = env.user(directory, "gone", enabled=False)
    env.eligible(gone, PASSWORD_ADMIN, duration=timedelta(days=3))
    user = env.user(directory, "past")
    env.eligible(
        user, PASSWORD_ADMIN, start=env.now - timedelta(days=5), duration=timedelta(days=1)
    )
    assert reminders.scan(env.runtime) == 0


def test_two_scanners_at_once_queue_each_reminder_once(env: Env) -> None:
    directory, _admin = env.pim_directory()
    for _ in range(30):
        env.eligible(env.user(directory), PASSWORD_ADMIN, duration=timedelta(days=5))
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def scan() -> None:
        barrier.wait()
        counts.append(reminders.scan(env.runtime, limit=7))

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(counts) == 30
    assert set(_reminders(env).values()) == {1} and len(_reminders(env)) == 30


def test_the_weekly_digest_goes_out_once_per_directory_and_week(env: Env) -> None:
    env.clock.set(datetime(2026, 1, 7, 10, 0, tzinfo=UTC))  # a Wednesday, ISO week 2
    directory, admin = env.pim_directory()
    email_channel(env, directory, 9)
    env.directory()  # PIM not enabled: no digest
    user = env.user(directory, "henry")
    eligibility = env.eligible(user, PASSWORD_ADMIN)
    env.activated(user, PASSWORD_ADMIN, eligibility=eligibility)
    env.activated(user, PASSWORD_ADMIN, eligibility=eligibility, start=env.now + timedelta(hours=2))
    imported = env.user(directory, "imported")
    env.permanent(imported, GA, created_via="import")

    assert digest.scan(env.runtime) == 0  # enabled this week: its first digest is next week
    env.clock.set(datetime(2026, 1, 12, 0, 5, tzinfo=UTC))  # Monday, week 3
    assert digest.scan(env.runtime) == 1
    assert digest.scan(env.runtime) == 0
    env.clock.advance(timedelta(days=3))
    assert digest.scan(env.runtime) == 0
    env.clock.advance(timedelta(days=4))  # week 4
    assert digest.scan(env.runtime) == 1

    first = events(env, digest.DIGEST_EVENT)[0]
    numbers = first.payload["digest"]
    assert first.payload["week"] == "2026-W03"
    assert numbers["activations"] == 2
    assert numbers["assignments_outside_pim"] == 1
    assert numbers["assignments_in_pim"] == 3  # the admin's GA, PRA and Security Admin
    assert numbers["top_roles"][0]["role"] == "Global Administrator"
    delivery.fan_out(env.runtime, limit=50)
    assert {d.recipient for d in deliveries(env)} == {
        admin.user_principal_name,
        imported.user_principal_name,  # a Global Administrator, however assigned
    }
    content = events(env, digest.DIGEST_EVENT)[0].content
    assert content is not None
    assert content["subject"] == "PIM: Weekly digest for Contoso"
    assert "2026-01-05 and 2026-01-11" in content["intro"]
    assert "Active assignments made outside PIM: 1" in " ".join(content["text"].split())
