"""Delivering due notifications: claim, send outside any transaction, record the outcome.

1. Fan-out (fanout.py) turns new outbox events into deliveries.
2. Claim: in one short transaction, due deliveries are locked (SKIP LOCKED on PostgreSQL) and
   leased to this worker (locked_until, claim_token); each gets an attempt row "sending".
3. Send: email and webhooks, with no database transaction open.
4. Record: in one transaction, each claimed row becomes delivered, is rescheduled with capped
   exponential backoff and jitter, or is dead-lettered after the last attempt. The update is
   conditional on our claim token, so a worker whose lease ran out cannot overwrite a newer
   claim.

At least once: a worker that dies between 3 and 4 leaves its lease to run out; the rows are
then sent again, under the same Message-ID / X-OpenPIM-Delivery id.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from openpim.kit.context import Actor
from openpim.notifications import claims, mail, webhooks
from openpim.notifications.fanout import EMAIL, fan_out_batch
from openpim.notifications.webhooks import SendResult
from openpim.runtime import Runtime

log = logging.getLogger("openpim.notifications")

DELIVERY_ACTOR = Actor.system("system:notifications")


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 10
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    # Longer than any batch may take to send: the batch stops sending at half of it.
    lease: timedelta = timedelta(minutes=5)
    smtp_timeout: float = 15.0
    http_timeout: float = 10.0
    http_connect_timeout: float = 5.0
    # Connections per SMTP relay and per webhook working a batch side by side.
    concurrency: int = 4

    def backoff(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """Capped exponential, with 'equal jitter': between half and all of the step, so
        retries of a batch that failed together spread out instead of arriving together."""
        step = min(self.max_delay, self.base_delay * (1 << min(max(0, attempts - 1), 30)))
        fraction: float = (rng or random).random()
        return step * (0.5 + 0.5 * fraction)


DEFAULT_POLICY = DeliveryPolicy()


@dataclass
class DeliveryCounts:
    events_expanded: int = 0
    events_failed: int = 0
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    released: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)

    @property
    def busy(self) -> bool:
        return bool(self.events_expanded or self.events_failed or self.claimed)

    def add(self, other: DeliveryCounts) -> None:
        for name in (
            "events_expanded",
            "events_failed",
            "claimed",
            "delivered",
            "retrying",
            "dead",
            "released",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, value in other.by_channel.items():
            self.by_channel[key] = self.by_channel.get(key, 0) + value


def worker_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"[:100]


def fan_out(runtime: Runtime, *, limit: int, policy: DeliveryPolicy = DEFAULT_POLICY) -> int:
    """Expand due outbox events, batch after batch until none is left; returns how many."""
    total = 0
    while True:
        with runtime.unit(DELIVERY_ACTOR) as ctx:
            result = fan_out_batch(
                ctx, limit=limit, max_attempts=policy.max_attempts, backoff=policy.backoff
            )
        total += result.expanded
        if result.claimed < limit:
            return total


def deliver_due(
    runtime: Runtime,
    *,
    limit: int = 200,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    rng: random.Random | None = None,
    worker: str | None = None,
) -> DeliveryCounts:
    """One round: expand up to `limit` new events, then send up to `limit` due deliveries."""
    counts = DeliveryCounts()
    with runtime.unit(DELIVERY_ACTOR) as ctx:
        expanded = fan_out_batch(
            ctx, limit=limit, max_attempts=policy.max_attempts, backoff=policy.backoff
        )
    counts.events_expanded, counts.events_failed = expanded.expanded, expanded.failed
    label = worker or worker_label()
    batch = claims.claim(
        runtime, limit=limit, lease=policy.lease, worker=label, smtp_timeout=policy.smtp_timeout
    )
    counts.claimed = len(batch.items)
    if not batch.items:
        return counts
    results = _send(runtime, batch, policy)
    outcome = claims.record(runtime, batch, results, policy=policy, rng=rng)
    counts.delivered, counts.retrying = outcome.delivered, outcome.retrying
    counts.dead, counts.released = outcome.dead, outcome.released
    for item in batch.items:
        if item.id in results and results[item.id] is not None:
            counts.by_channel[item.channel] = counts.by_channel.get(item.channel, 0) + 1
    return counts


def drain(
    runtime: Runtime,
    *,
    limit: int = 200,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    rng: random.Random | None = None,
    max_rounds: int = 1000,
) -> DeliveryCounts:
    """Rounds until nothing is due now (a backlog, the CLI, tests)."""
    total = DeliveryCounts()
    for _ in range(max_rounds):
        counts = deliver_due(runtime, limit=limit, policy=policy, rng=rng)
        total.add(counts)
        # Failed rows are rescheduled into the future, so an idle round means nothing is due.
        if not counts.busy:
            break
    return total


def _send(
    runtime: Runtime, batch: claims.Batch, policy: DeliveryPolicy
) -> dict[uuid.UUID, SendResult | None]:
    """Results by delivery id; None = not tried (the batch ran out of its time budget).

    Sending is waiting on the network, so each relay's and each webhook's share of the batch
    is split over `policy.concurrency` connections working side by side.
    """
    deadline = time.monotonic() + policy.lease.total_seconds() / 2
    results: dict[uuid.UUID, SendResult | None] = {}
    lanes: dict[tuple[str, uuid.UUID], list[claims.Item]] = {}
    for item in batch.items:
        if item.problem is not None:
            results[item.id] = SendResult(False, item.problem, permanent=item.problem_final)
            continue
        target = item.directory_id if item.channel == EMAIL else item.webhook_id
        assert target is not None
        lanes.setdefault((item.channel, target), []).append(item)
    width = max(1, policy.concurrency)
    chunks = [
        (channel, target, items[i::width])
        for (channel, target), items in lanes.items()
        for i in range(min(width, len(items)))
    ]
    timeout = httpx.Timeout(policy.http_timeout, connect=policy.http_connect_timeout)
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:

        def run(chunk: tuple[str, uuid.UUID, list[claims.Item]]) -> dict[uuid.UUID, Any]:
            channel, target, items = chunk
            if channel == EMAIL:
                return _send_emails(runtime, batch.smtp[target], items, deadline)
            return _send_webhooks(runtime, client, batch.hooks[target], items, deadline)

        if len(chunks) == 1:
            results.update(run(chunks[0]))
        elif chunks:
            with ThreadPoolExecutor(max_workers=min(len(chunks), 4 * width)) as pool:
                for done in pool.map(run, chunks):
                    results.update(done)
    return results


def _send_emails(
    runtime: Runtime, config: mail.SmtpConfig, items: list[claims.Item], deadline: float
) -> dict[uuid.UUID, SendResult | None]:
    out: dict[uuid.UUID, SendResult | None] = {}
    with mail.session(config) as sender:
        for item in items:
            if time.monotonic() > deadline:
                out[item.id] = None
                continue
            out[item.id] = sender.send(_outgoing(item), runtime.clock.now())
    return out


def _send_webhooks(
    runtime: Runtime,
    client: httpx.Client,
    hook: claims.Hook,
    items: list[claims.Item],
    deadline: float,
) -> dict[uuid.UUID, SendResult | None]:
    out: dict[uuid.UUID, SendResult | None] = {}
    for item in items:
        if time.monotonic() > deadline:
            out[item.id] = None
            continue
        body = webhooks.body(hook.format, str(item.id), _event(item), item.content)
        out[item.id] = webhooks.post(
            client,
            url=hook.url,
            secret=hook.secret,
            delivery_id=str(item.id),
            event_type=item.event_type,
            payload=body,
            timestamp=int(runtime.clock.now().timestamp()),
        )
    return out


def _outgoing(item: claims.Item) -> mail.Outgoing:
    return mail.Outgoing(
        delivery_id=str(item.id),
        event_id=str(item.outbox_id),
        to=item.recipient,
        subject=item.content["subject"],
        text=item.content["text"],
        html=item.content["html"],
        event_type=item.event_type,
    )


def _event(item: claims.Item) -> dict[str, Any]:
    return {
        "event_type": item.event_type,
        "outbox_id": str(item.outbox_id),
        "occurred_at": item.occurred_at.isoformat(),
        "directory_id": str(item.directory_id),
        "payload": item.payload,
    }


def run_forever(
    runtime: Runtime,
    stop_event: threading.Event,
    *,
    limit: int = 200,
    interval: float = 1.0,
    scan_interval: float = 60.0,
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> None:
    """Deliver until stopped, in its own thread: a slow relay never holds up expiry work.

    Every `scan_interval` seconds it also queues due expiry reminders and weekly digests.
    """
    from openpim.notifications import digest, reminders

    failures = 0
    next_scan = 0.0
    while not stop_event.is_set():
        try:
            if time.monotonic() >= next_scan:
                reminders.scan(runtime)
                digest.scan(runtime)
                next_scan = time.monotonic() + scan_interval
            counts = deliver_due(runtime, limit=limit, policy=policy)
        except Exception:
            failures += 1
            log.exception("notification delivery round failed (%d in a row)", failures)
            stop_event.wait(min(interval * 2**failures, 30.0))
            continue
        failures = 0
        if counts.claimed or counts.events_expanded:
            log.info(
                "notifications: %d events expanded, %d delivered, %d retrying, %d dead",
                counts.events_expanded,
                counts.delivered,
                counts.retrying,
                counts.dead,
            )
        if counts.claimed < limit and counts.events_expanded < limit:
            stop_event.wait(interval)


def start_in_thread(runtime: Runtime, **kwargs: Any) -> tuple[threading.Thread, threading.Event]:
    stop_event = threading.Event()
    thread = threading.Thread(
        target=run_forever,
        args=(runtime, stop_event),
        kwargs=kwargs,
        name="openpim-notifications",
        daemon=True,
    )
    thread.start()
    return thread, stop_event
