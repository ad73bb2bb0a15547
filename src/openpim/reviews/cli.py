"""`openpim reviews ...`: create and run access reviews; reviewers decide with --as UPN."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer

from openpim.cli.acting import sign_in_as
from openpim.cli.common import (
    DatabaseUrl,
    DirectoryOpt,
    JsonFlag,
    emit_json,
    emit_table,
    open_runtime,
    operator,
    operator_unit,
    parse_instant,
    parse_iso_duration,
    resolve_directory,
    resolve_role,
    resolve_user,
)
from openpim.reviews import service as reviews
from openpim.reviews.rules import ReviewSpec
from openpim.reviews.schemas import ItemOut, ReviewOut

reviews_app = typer.Typer(help="Access reviews.", no_args_is_help=True)
ReviewArg = Annotated[uuid.UUID, typer.Argument(help="Review id.")]


def _show(rows: list[ReviewOut], json_out: bool) -> None:
    if json_out:
        emit_json([r.model_dump(mode="json") for r in rows])
        return
    emit_table(
        ["ID", "NAME", "ROLE", "STATUS", "ENDS", "MEMBERS", "DECIDED"],
        [[r.id, r.name, r.role, r.status, r.end_at, r.members, r.decided] for r in rows],
    )


@reviews_app.command("create")
def create_cmd(
    name: Annotated[str, typer.Option(help="Review name.")],
    role: Annotated[list[str], typer.Option(help="Role name or id (repeat: one review each).")],
    reviewer: Annotated[
        list[str] | None,
        typer.Option(help="Reviewer UPN (repeat); none: members review themselves."),
    ] = None,
    duration: Annotated[str | None, typer.Option(help="ISO-8601, e.g. P14D.")] = None,
    start: Annotated[str | None, typer.Option(help="ISO-8601 start (default now).")] = None,
    end: Annotated[str | None, typer.Option(help="ISO-8601 end (instead of --duration).")] = None,
    scope: Annotated[str, typer.Option(help="eligible, active or both.")] = "both",
    default_decision: Annotated[
        str,
        typer.Option(help="For unreviewed members: no_change, remove, approve, recommendation."),
    ] = "no_change",
    recurrence: Annotated[
        str, typer.Option(help="none, weekly, monthly, quarterly, semiannually, annually.")
    ] = "none",
    auto_apply: Annotated[bool, typer.Option(help="Apply when it completes.")] = False,
    reason_on_approval: Annotated[bool, typer.Option(help="Approvals need a reason.")] = True,
    description: Annotated[str, typer.Option(help="Shown to reviewers.")] = "",
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Create one review per role."""
    start_at, end_at = parse_instant(start, "--start"), parse_instant(end, "--end")
    length = parse_iso_duration(duration, "--duration")
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        spec = ReviewSpec(
            name=name, description=description,
            role_ids=[resolve_role(ctx, directory_id, r).id for r in role],
            reviewer_mode="selected" if reviewer else "self",
            reviewer_ids=[resolve_user(ctx, u, directory).id for u in reviewer or []],
            start_at=start_at, end_at=end_at, duration=length, scope=scope,
            default_decision=default_decision, recurrence=recurrence, auto_apply=auto_apply,
            require_reason_on_approval=reason_on_approval,
        )  # fmt: skip
        made = reviews.create_reviews(ctx, directory_id, spec)
        rows = [ReviewOut.of(reviews.get_review(ctx, r.id)) for r in made]
    _show(rows, json_out)


@reviews_app.command("list")
def list_cmd(
    status: Annotated[
        str | None, typer.Option(help="NotStarted, InProgress, Completed, Applied")
    ] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Reviews of a directory (InProgress: the ongoing ones)."""
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        rows = [
            ReviewOut.of(p)
            for p in reviews.list_reviews(ctx, resolve_directory(ctx, directory).id, status=status)
        ]
    _show(rows, json_out)


@reviews_app.command("mine")
def mine_cmd(
    as_user: Annotated[str, typer.Option("--as", help="The reviewer (asks for their password).")],
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Reviews in progress where this user has members to decide."""
    rt = open_runtime(database_url)
    who, _ = sign_in_as(rt, as_user, directory, with_code=False)
    with rt.read(who.actor()) as ctx:
        rows = [ReviewOut.of(p) for p in reviews.my_reviews(ctx)]
    if json_out:
        emit_json([r.model_dump(mode="json") for r in rows])
        return
    emit_table(
        ["ID", "NAME", "ROLE", "ENDS", "TO DECIDE"],
        [[r.id, r.name, r.role, r.end_at, r.pending_for_me] for r in rows],
    )


@reviews_app.command("items")
def items_cmd(
    review: ReviewArg,
    pending: Annotated[bool, typer.Option(help="Only undecided members.")] = False,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Members under review with recommendations and decisions."""
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        items, show = reviews.list_items(ctx, review, pending_only=pending, limit=reviews.MAX_PAGE)
        rows = [ItemOut.of(i, show=show) for i in items]
    if json_out:
        emit_json([r.model_dump(mode="json") for r in rows])
        return
    emit_table(
        ["ITEM", "MEMBER", "TYPE", "RECOMMENDATION", "DECISION", "BY", "OUTCOME", "APPLIED"],
        [
            [r.id, r.principal, r.member_type, r.recommendation, r.decision, r.decided_by,
             r.outcome, r.applied_result]
            for r in rows
        ],
    )  # fmt: skip


@reviews_app.command("decide")
def decide_cmd(
    item: Annotated[uuid.UUID, typer.Argument(help="Item id (see `openpim reviews items`).")],
    decision: Annotated[str, typer.Argument(help="Approve, Deny or DontKnow")],
    as_user: Annotated[str, typer.Option("--as", help="The reviewer (asks for their password).")],
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    version: Annotated[int | None, typer.Option(help="To change a decision: its version.")] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Decide one member as a reviewer."""
    rt = open_runtime(database_url)
    who, _ = sign_in_as(rt, as_user, directory, with_code=False)
    with rt.unit(who.actor()) as ctx:
        done = reviews.decide(ctx, item, decision, reason, expected_version=version)
        typer.echo(f"{done.principal_label}: {done.decision} (version {done.version})")


def _admin(action: str, review: uuid.UUID, database_url: str | None) -> object:
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        if action == "remind":
            return reviews.remind(ctx, review)
        if action == "reset":
            return reviews.reset_decisions(ctx, review)
        if action == "stop":
            return reviews.stop_review(ctx, review)
        if action == "complete":
            return reviews.complete_review(ctx, review)
        if action == "apply":
            return reviews.apply_review(ctx, review)
        reviews.delete_review(ctx, review)
        return None


@reviews_app.command("remind")
def remind_cmd(review: ReviewArg, database_url: DatabaseUrl = None) -> None:
    """Remind reviewers with members still to decide."""
    typer.echo(f"reminded {_admin('remind', review, database_url)} reviewer(s)")


@reviews_app.command("reset")
def reset_cmd(review: ReviewArg, database_url: DatabaseUrl = None) -> None:
    """Clear every decision of a review in progress."""
    typer.echo(f"cleared {_admin('reset', review, database_url)} decision(s)")


@reviews_app.command("stop")
def stop_cmd(review: ReviewArg, database_url: DatabaseUrl = None) -> None:
    """Stop a review early (outcomes fixed as at completion)."""
    typer.echo(f"stopped; outcomes {_admin('stop', review, database_url)}")


@reviews_app.command("complete")
def complete_cmd(review: ReviewArg, database_url: DatabaseUrl = None) -> None:
    """Complete a review now."""
    typer.echo(f"completed; outcomes {_admin('complete', review, database_url)}")


@reviews_app.command("apply")
def apply_cmd(review: ReviewArg, database_url: DatabaseUrl = None) -> None:
    """Remove denied members of a completed review (safe to repeat)."""
    s = _admin("apply", review, database_url)
    assert isinstance(s, reviews.ApplySummary)
    typer.echo(
        f"removed {s.removed}, already gone {s.already_gone}, failed {s.failed}, kept {s.kept}"
        + (" (already applied)" if s.already_applied else "")
    )


@reviews_app.command("delete")
def delete_cmd(review: ReviewArg, database_url: DatabaseUrl = None) -> None:
    """Delete a review (the audit keeps its history)."""
    _admin("delete", review, database_url)
    typer.echo(f"review {review} deleted")


@reviews_app.command("export")
def export_cmd(
    review: ReviewArg,
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The review's results as CSV."""
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        target, role = reviews.export_statement(ctx, review)
    chunks = reviews.export_csv(rt.db.engine, target, role)
    if output is None:
        for chunk in chunks:
            typer.echo(chunk, nl=False)
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(chunks)
    typer.echo(f"exported to {output}", err=True)
