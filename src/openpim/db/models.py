"""Import every model so Base.metadata is complete (Alembic and create_all use it)."""

from openpim.alerts.models import AlertConfig, AlertIncident, AlertIncidentItem
from openpim.assignments.models import Assignment, Eligibility, RoleRequest
from openpim.audit.models import AuditChainHead, AuditEvent
from openpim.auth.models import AuthFailure, AuthToken
from openpim.db.base import Base
from openpim.directory.models import Directory, User, VerifiedDomain
from openpim.notifications.models import OutboxMessage
from openpim.policies.models import RolePolicy
from openpim.reviews.models import AccessReview, AccessReviewItem, AccessReviewReviewer
from openpim.roles.models import RoleDefinition

__all__ = [
    "AccessReview",
    "AccessReviewItem",
    "AccessReviewReviewer",
    "AlertConfig",
    "AlertIncident",
    "AlertIncidentItem",
    "Assignment",
    "AuditChainHead",
    "AuditEvent",
    "AuthFailure",
    "AuthToken",
    "Base",
    "Directory",
    "Eligibility",
    "OutboxMessage",
    "RoleDefinition",
    "RolePolicy",
    "RoleRequest",
    "User",
    "VerifiedDomain",
]
