"""Read models and request bodies for membership (shared by the API, CLI and portal)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from openpim.assignments.models import MemberType
from openpim.kit.durations import parse_duration
from openpim.kit.errors import ValidationFailed


class ScheduleOut(BaseModel):
    id: uuid.UUID
    member_type: MemberType
    assignment_type: str | None = Field(
        description="Assigned or Activated for active membership; None for eligibility"
    )
    principal_id: uuid.UUID
    principal: str
    role_id: uuid.UUID
    role: str
    start_at: datetime
    end_at: datetime | None = Field(description="None means permanent")
    state: str = Field(description="active, scheduled or ended")
    eligibility_id: uuid.UUID | None = None
    request_id: uuid.UUID | None = None
    created_via: str
    ended_reason: str | None = None


class RequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    directory_id: uuid.UUID
    action: str
    member_type: str
    principal_id: uuid.UUID
    role_id: uuid.UUID
    requested_by_id: uuid.UUID | None
    requested_by_label: str
    status: str
    start_at: datetime | None
    end_at: datetime | None
    justification: str | None
    ticket_number: str | None
    ticket_system: str | None
    target_schedule_id: uuid.UUID | None
    result_schedule_id: uuid.UUID | None
    created_at: datetime
    approval_deadline: datetime | None
    decided_at: datetime | None
    decided_by_id: uuid.UUID | None
    decision_justification: str | None
    failure_reason: str | None


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActivateIn(StrictBody):
    role_id: uuid.UUID
    duration: timedelta = Field(description="ISO-8601, e.g. PT1H")

    @field_validator("duration", mode="before")
    @classmethod
    def _iso_duration_only(cls, value: object) -> object:
        # A bare number's unit is a guess (seconds? minutes?): only ISO-8601 text is taken.
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValidationFailed:
                # Not the parser's message: it quotes the input, and errors never echo input.
                raise ValueError("duration must be an ISO-8601 duration such as PT1H") from None
        if isinstance(value, timedelta):
            return value
        raise ValueError("duration must be an ISO-8601 duration such as PT1H")

    start_at: AwareDatetime | None = None
    justification: str | None = Field(default=None, max_length=500)
    ticket_number: str | None = Field(default=None, max_length=200)
    ticket_system: str | None = Field(default=None, max_length=200)
    totp_code: str | None = Field(default=None, max_length=10)


class DeactivateIn(StrictBody):
    role_id: uuid.UUID
    justification: str | None = Field(default=None, max_length=500)


class AssignIn(StrictBody):
    principal_id: uuid.UUID
    role_id: uuid.UUID
    member_type: MemberType = MemberType.ELIGIBLE
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = Field(default=None, description="None means permanent")
    justification: str | None = Field(default=None, max_length=500)
    ticket_number: str | None = Field(default=None, max_length=200)
    ticket_system: str | None = Field(default=None, max_length=200)
    totp_code: str | None = Field(default=None, max_length=10)


class MembershipIn(StrictBody):
    principal_id: uuid.UUID
    role_id: uuid.UUID
    member_type: MemberType = MemberType.ELIGIBLE
    justification: str | None = Field(default=None, max_length=500)


class UpdateIn(MembershipIn):
    end_at: AwareDatetime | None = Field(description="None means permanent")
    start_at: AwareDatetime | None = None


class SelfExtendIn(StrictBody):
    role_id: uuid.UUID
    member_type: MemberType = MemberType.ELIGIBLE
    end_at: AwareDatetime | None = None
    justification: str = Field(min_length=1, max_length=500)


class DecisionIn(StrictBody):
    justification: str = Field(min_length=1, max_length=500)


class ConvertPair(StrictBody):
    principal_id: uuid.UUID
    role_id: uuid.UUID


class WizardConvertIn(StrictBody):
    members: list[ConvertPair] = Field(max_length=1000)
