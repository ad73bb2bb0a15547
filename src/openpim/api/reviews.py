"""Access reviews: administrators create and run them, reviewers decide their members.

Decisions on one member are first-come: a second reviewer deciding the same member gets a 409
(`decision_conflict`) naming the decision and the version to send to change it.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse

from openpim.api.deps import MANAGER, READER, SIGNED_IN, CallerDep, StrictRoute, access
from openpim.api.download import attachment
from openpim.api.inputs import Offset
from openpim.api.scope import directory_of
from openpim.reviews import service as reviews
from openpim.reviews.schemas import (
    ApplyOut,
    CountOut,
    DecisionIn,
    ItemListOut,
    ItemOut,
    OutcomesOut,
    ReviewIn,
    ReviewListOut,
    ReviewOut,
)

router = APIRouter(tags=["access reviews"], route_class=StrictRoute)

# "reviewer" in the access column: PIM's readers, or a reviewer of this review.
REVIEWER = SIGNED_IN


@router.get(
    "/access-reviews",
    summary="Access reviews of my directory (filter by status: InProgress = ongoing)",
    response_model=ReviewListOut,
    openapi_extra=access(READER),
)
def list_reviews(
    caller: CallerDep,
    status_filter: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=reviews.MAX_PAGE)] = 100,
) -> ReviewListOut:
    with caller.read() as ctx:
        rows = reviews.list_reviews(ctx, directory_of(ctx), status=status_filter, limit=limit)
        return ReviewListOut(value=[ReviewOut.of(p) for p in rows])


@router.post(
    "/access-reviews",
    summary="Create a review per selected role (starts at once when its start has come)",
    response_model=ReviewListOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access(MANAGER),
)
def create(caller: CallerDep, body: ReviewIn) -> ReviewListOut:
    with caller.unit() as ctx:
        made = reviews.create_reviews(ctx, directory_of(ctx), body.spec())
        return ReviewListOut(value=[ReviewOut.of(reviews.get_review(ctx, r.id)) for r in made])


@router.get(
    "/me/access-reviews",
    summary="Reviews in progress where I have members to decide",
    response_model=ReviewListOut,
    openapi_extra=access(SIGNED_IN),
)
def my_reviews(caller: CallerDep) -> ReviewListOut:
    with caller.read() as ctx:
        return ReviewListOut(value=[ReviewOut.of(p) for p in reviews.my_reviews(ctx)])


@router.get(
    "/access-reviews/{review_id}",
    summary="One review with its progress",
    response_model=ReviewOut,
    openapi_extra=access(REVIEWER),
)
def get_review(caller: CallerDep, review_id: uuid.UUID) -> ReviewOut:
    with caller.read() as ctx:
        return ReviewOut.of(reviews.get_review(ctx, review_id))


@router.get(
    "/access-reviews/{review_id}/items",
    summary="Members under review (a self-reviewing member sees their own)",
    response_model=ItemListOut,
    openapi_extra=access(REVIEWER),
)
def list_items(
    caller: CallerDep,
    review_id: uuid.UUID,
    pending: bool = False,
    limit: Annotated[int, Query(ge=1, le=reviews.MAX_PAGE)] = 100,
    offset: Offset = 0,
) -> ItemListOut:
    with caller.read() as ctx:
        items, show = reviews.list_items(
            ctx, review_id, pending_only=pending, limit=limit, offset=offset
        )
        return ItemListOut(value=[ItemOut.of(i, show=show) for i in items])


@router.post(
    "/access-reviews/items/{item_id}/decision",
    summary="Approve, Deny or DontKnow one member (409 if someone decided first)",
    response_model=ItemOut,
    openapi_extra=access(REVIEWER),
)
def decide(caller: CallerDep, item_id: uuid.UUID, body: DecisionIn) -> ItemOut:
    with caller.unit() as ctx:
        item = reviews.decide(
            ctx, item_id, body.decision, body.reason, expected_version=body.expected_version
        )
        return ItemOut.of(item, show=True)


@router.post(
    "/access-reviews/{review_id}/remind",
    summary="Remind reviewers who still have members to decide (queued notification)",
    response_model=CountOut,
    openapi_extra=access(MANAGER),
)
def remind(caller: CallerDep, review_id: uuid.UUID) -> CountOut:
    with caller.unit() as ctx:
        return CountOut(count=reviews.remind(ctx, review_id))


@router.post(
    "/access-reviews/{review_id}/reset",
    summary="Clear every decision of a review in progress",
    response_model=CountOut,
    openapi_extra=access(MANAGER),
)
def reset(caller: CallerDep, review_id: uuid.UUID) -> CountOut:
    with caller.unit() as ctx:
        return CountOut(count=reviews.reset_decisions(ctx, review_id))


@router.post(
    "/access-reviews/{review_id}/stop",
    summary="Stop a review early: outcomes are fixed as at completion",
    response_model=OutcomesOut,
    openapi_extra=access(MANAGER),
)
def stop(caller: CallerDep, review_id: uuid.UUID) -> OutcomesOut:
    with caller.unit() as ctx:
        return OutcomesOut(outcomes=reviews.stop_review(ctx, review_id))


@router.post(
    "/access-reviews/{review_id}/complete",
    summary="Complete a review now (auto-apply and recurrence follow its options)",
    response_model=OutcomesOut,
    openapi_extra=access(MANAGER),
)
def complete(caller: CallerDep, review_id: uuid.UUID) -> OutcomesOut:
    with caller.unit() as ctx:
        return OutcomesOut(outcomes=reviews.complete_review(ctx, review_id))


@router.post(
    "/access-reviews/{review_id}/apply",
    summary="Remove the denied members of a completed review (idempotent)",
    response_model=ApplyOut,
    openapi_extra=access(MANAGER),
)
def apply(caller: CallerDep, review_id: uuid.UUID) -> ApplyOut:
    with caller.unit() as ctx:
        return ApplyOut.of(reviews.apply_review(ctx, review_id))


@router.get(
    "/access-reviews/{review_id}/results.csv",
    summary="The review's results as CSV (streamed)",
    response_class=StreamingResponse,
    openapi_extra=access(READER),
)
def results_csv(caller: CallerDep, review_id: uuid.UUID) -> StreamingResponse:
    with caller.read() as ctx:
        review, role = reviews.export_statement(ctx, review_id)
    return attachment(
        reviews.export_csv(caller.runtime.db.engine, review, role),
        f"access-review-{review_id}.csv",
    )


@router.delete(
    "/access-reviews/{review_id}",
    summary="Delete a review and its items (the audit keeps its history)",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    openapi_extra=access(MANAGER),
)
def delete(caller: CallerDep, review_id: uuid.UUID) -> Response:
    with caller.unit() as ctx:
        reviews.delete_review(ctx, review_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
