"""Benchmark: creating an access review of a role with 10,000 members (snapshot included).

    .venv/bin/python bench/bench_reviews.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/openpim_bench_issue4 \\
        --summary /work/bench-data/openpim-bench-pg.json

Use a copy of the seeded database. The script picks the seeded role with the most current
eligible members (it carries the seed's activation history, so recommendations have real
evidence) and tops it up with eligibilities of other users until exactly --members users are
current members. It then times `reviews.service.create_reviews` (one unit of work: the review,
the snapshot of every member with last sign-in, last activation and recommendation, the audit
and outbox rows, commit), --repeat times, deleting the review in between. Target: <= 5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select

from openpim.assignments.models import Eligibility
from openpim.config import Settings
from openpim.db.models import Base
from openpim.directory.models import Directory, User
from openpim.kit.clock import FrozenClock
from openpim.kit.context import Actor
from openpim.reviews import service as reviews
from openpim.reviews.rules import ReviewSpec
from openpim.runtime import Runtime

OPERATOR = Actor.operator("bench")


def _live(now: datetime) -> Any:
    return (Eligibility.start_at <= now) & or_(
        Eligibility.end_at.is_(None), Eligibility.end_at > now
    )


def _prepare(runtime: Runtime, directory_id: uuid.UUID, members: int) -> tuple[uuid.UUID, int]:
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as s:
        role_id, current = s.execute(
            select(Eligibility.role_id, func.count(func.distinct(Eligibility.principal_id)))
            .where(Eligibility.directory_id == directory_id, _live(now))
            .group_by(Eligibility.role_id)
            .order_by(func.count(func.distinct(Eligibility.principal_id)).desc())
            .limit(1)
        ).one()
        missing = members - int(current)
        if missing > 0:
            holders = select(Eligibility.principal_id).where(
                Eligibility.role_id == role_id, _live(now)
            )
            candidates = s.scalars(
                select(User.id)
                .where(User.directory_id == directory_id, User.id.not_in(holders))
                .order_by(User.id)
                .limit(missing)
            ).all()
            s.execute(
                insert(Eligibility),
                [
                    {
                        "id": uuid.uuid4(), "directory_id": directory_id, "principal_id": u,
                        "role_id": role_id, "start_at": now - timedelta(days=60), "end_at": None,
                        "created_via": "pim", "created_at": now - timedelta(days=60),
                    }
                    for u in candidates
                ],
            )  # fmt: skip
        total = s.execute(
            select(func.count(func.distinct(Eligibility.principal_id))).where(
                Eligibility.role_id == role_id, _live(now)
            )
        ).scalar_one()
    return role_id, int(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--summary", help="the seed's summary JSON (for its 'now')")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    now = datetime.now(UTC)
    if args.summary:
        with open(args.summary, encoding="utf-8") as handle:
            now = datetime.fromisoformat(json.load(handle)["now"])
    runtime = Runtime.from_settings(Settings(database_url=args.database_url), FrozenClock(now))
    Base.metadata.create_all(runtime.db.engine)
    with runtime.db.reader() as s:
        directory_id = s.scalars(select(Directory.id).order_by(Directory.id)).first()
        assert directory_id is not None, "seed the database first"
    role_id, members = _prepare(runtime, directory_id, args.members)
    reviewer = None
    with runtime.db.reader() as s:
        reviewer = s.scalars(
            select(User.id).where(User.directory_id == directory_id).order_by(User.id)
        ).first()
    spec = ReviewSpec(
        name="bench: quarterly review", role_ids=[role_id], reviewer_ids=[reviewer],
        duration=timedelta(days=14), scope="eligible",
    )  # fmt: skip
    timings, items = [], 0
    for _ in range(args.repeat):
        started = time.perf_counter()
        with runtime.unit(OPERATOR) as ctx:
            (review,) = reviews.create_reviews(ctx, directory_id, spec)
        timings.append(time.perf_counter() - started)
        with runtime.unit(OPERATOR) as ctx:
            items = reviews.get_review(ctx, review.id).total
            reviews.delete_review(ctx, review.id)
    result = {
        "database": runtime.db.dialect,
        "role_id": str(role_id),
        "current_members": members,
        "snapshot_items": items,
        "create_seconds": {
            "median": round(statistics.median(timings), 3),
            "max": round(max(timings), 3),
            "runs": [round(t, 3) for t in timings],
        },
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    runtime.db.dispose()


if __name__ == "__main__":
    main()
