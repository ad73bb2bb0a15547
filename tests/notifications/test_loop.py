"""The delivery thread: sends what is queued while it runs, queues reminders, stops on request."""

from __future__ import annotations

from datetime import timedelta

from openpim.assignments.models import MemberType
from openpim.notifications import delivery
from tests.assignments.helpers import assign
from tests.factories import PASSWORD_ADMIN, Env
from tests.notifications.helpers import POLICY, email_channel, legacy_recipients
from tests.notifications.servers import SmtpServer, wait_for


def test_the_delivery_thread_sends_while_it_runs_and_stops(env: Env, smtp: SmtpServer) -> None:
    directory, admin = env.pim_directory()
    email_channel(env, directory, smtp.port)
    legacy_recipients(env, directory)
    member = env.user(directory, "kim")
    env.eligible(member, PASSWORD_ADMIN, duration=timedelta(days=3))  # due for a reminder
    thread, stop = delivery.start_in_thread(env.runtime, interval=0.02, policy=POLICY)
    try:
        wait_for(lambda: len(smtp.received) == 1)  # the reminder, queued by the thread's scan
        assign(env, admin, env.user(directory, "lee"), PASSWORD_ADMIN, MemberType.ELIGIBLE)
        wait_for(lambda: len(smtp.received) == 2)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    subjects = sorted(str(r.message["Subject"]) for r in smtp.received)
    assert subjects == [
        "PIM: You are now eligible for Password Administrator",
        "PIM: Your eligible role Password Administrator ends in 3 days",
    ]
