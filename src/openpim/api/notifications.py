"""Notification channels (SMTP relay, webhooks), test messages and the delivery log.

Secrets go in, never come out: responses say `password_set` / `secret_set`, and a webhook
secret the server generated is shown once, in the response that created it.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from openpim.api.deps import MANAGER, READER, CallerDep, StrictRoute, access
from openpim.api.scope import directory_of
from openpim.notifications import channels, deliverylog
from openpim.notifications.schemas import (
    DeadEventListOut,
    DeadEventOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    EmailChannelIn,
    EmailChannelOut,
    NotificationSettingsOut,
    QueuedOut,
    RetriedOut,
    TestMessageIn,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookUpdate,
)

router = APIRouter(prefix="/notifications", tags=["notifications"], route_class=StrictRoute)


@router.get(
    "",
    summary="The directory's notification channels (secrets are never returned)",
    response_model=NotificationSettingsOut,
    openapi_extra=access(READER),
)
def get_channels(caller: CallerDep) -> NotificationSettingsOut:
    with caller.read() as ctx:
        return channels.overview(ctx, directory_of(ctx))


@router.put(
    "/email",
    summary="Set the SMTP relay; leave `password` out to keep the stored one",
    response_model=EmailChannelOut,
    openapi_extra=access(MANAGER),
)
def set_email(body: EmailChannelIn, caller: CallerDep) -> EmailChannelOut:
    with caller.unit() as ctx:
        return channels.set_email_channel(ctx, directory_of(ctx), body)


@router.delete(
    "/email",
    summary="Stop sending email (queued messages are dead-lettered when their turn comes)",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=access(MANAGER),
)
def remove_email(caller: CallerDep) -> Response:
    with caller.unit() as ctx:
        channels.remove_email_channel(ctx, directory_of(ctx))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/webhooks",
    summary="Add a webhook; without `secret` one is generated and shown this once",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access(MANAGER),
)
def add_webhook(body: WebhookIn, caller: CallerDep) -> WebhookCreated:
    with caller.unit() as ctx:
        return channels.create_webhook(ctx, directory_of(ctx), body)


@router.patch(
    "/webhooks/{webhook_id}",
    summary="Change a webhook (omitted fields keep their value)",
    response_model=WebhookOut,
    openapi_extra=access(MANAGER),
)
def change_webhook(webhook_id: uuid.UUID, body: WebhookUpdate, caller: CallerDep) -> WebhookOut:
    with caller.unit() as ctx:
        return channels.update_webhook(ctx, directory_of(ctx), webhook_id, body)


@router.delete(
    "/webhooks/{webhook_id}",
    summary="Remove a webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=access(MANAGER),
)
def remove_webhook(webhook_id: uuid.UUID, caller: CallerDep) -> Response:
    with caller.unit() as ctx:
        channels.remove_webhook(ctx, directory_of(ctx), webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/test",
    summary="Queue a test message to one address or one webhook",
    response_model=QueuedOut,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=access(MANAGER),
)
def send_test(body: TestMessageIn, caller: CallerDep) -> QueuedOut:
    with caller.unit() as ctx:
        event_id = channels.send_test(
            ctx, directory_of(ctx), email=body.email, webhook_id=body.webhook_id
        )
        return QueuedOut(event_id=event_id)


@router.get(
    "/deliveries",
    summary="The delivery log, newest first (pass next_cursor back as cursor)",
    response_model=DeliveryPage,
    openapi_extra=access(READER),
)
def list_deliveries(
    caller: CallerDep,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    event_type: Annotated[str | None, Query(max_length=64)] = None,
    channel: Annotated[str | None, Query(pattern="^(email|webhook)$")] = None,
    limit: Annotated[int, Query(ge=1, le=deliverylog.MAX_PAGE)] = deliverylog.DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeliveryPage:
    flt = deliverylog.DeliveryFilter(status=delivery_status, event_type=event_type, channel=channel)
    with caller.read() as ctx:
        return deliverylog.list_deliveries(ctx, directory_of(ctx), flt, limit=limit, cursor=cursor)


@router.post(
    "/deliveries/retry-dead",
    summary="Retry every dead-lettered delivery (after fixing a channel)",
    response_model=RetriedOut,
    openapi_extra=access(MANAGER),
)
def retry_dead(caller: CallerDep) -> RetriedOut:
    with caller.unit() as ctx:
        return RetriedOut(retried=deliverylog.retry_dead(ctx, directory_of(ctx)))


@router.get(
    "/deliveries/{delivery_id}",
    summary="One delivery with every attempt",
    response_model=DeliveryDetail,
    openapi_extra=access(READER),
)
def get_delivery(delivery_id: uuid.UUID, caller: CallerDep) -> DeliveryDetail:
    with caller.read() as ctx:
        return deliverylog.get_delivery(ctx, directory_of(ctx), delivery_id)


@router.post(
    "/deliveries/{delivery_id}/retry",
    summary="Retry a dead-lettered delivery",
    response_model=DeliveryOut,
    openapi_extra=access(MANAGER),
)
def retry_delivery(delivery_id: uuid.UUID, caller: CallerDep) -> DeliveryOut:
    with caller.unit() as ctx:
        return deliverylog.retry_delivery(ctx, directory_of(ctx), delivery_id)


@router.get(
    "/events/dead",
    summary="Events that could not be turned into messages at all",
    response_model=DeadEventListOut,
    openapi_extra=access(READER),
)
def dead_events(caller: CallerDep) -> DeadEventListOut:
    with caller.read() as ctx:
        rows = deliverylog.dead_events(ctx, directory_of(ctx))
        return DeadEventListOut(value=[DeadEventOut(**row) for row in rows])


@router.post(
    "/events/{event_id}/retry",
    summary="Retry a dead-lettered event",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=access(MANAGER),
)
def retry_event(event_id: uuid.UUID, caller: CallerDep) -> Response:
    with caller.unit() as ctx:
        deliverylog.retry_event(ctx, directory_of(ctx), event_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
