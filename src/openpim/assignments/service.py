"""The membership service: every operation on eligibilities, assignments and requests.

Adapters (API, CLI, portal) import from here; each function lives in its own operation module.
"""

from openpim.assignments.enablement import enable_pim, wizard_convert, wizard_overview
from openpim.assignments.operations.activate import self_activate
from openpim.assignments.operations.admin import admin_assign, admin_remove
from openpim.assignments.operations.approval import approve, cancel, deny
from openpim.assignments.operations.convert import make_eligible, make_permanent
from openpim.assignments.operations.deactivate import self_deactivate
from openpim.assignments.operations.self_service import self_extend, self_renew
from openpim.assignments.operations.update import admin_extend, admin_renew, admin_update
from openpim.assignments.views import (
    MemberPage,
    awaiting_my_decision,
    get_request,
    get_schedule,
    list_requests,
    member_page,
    requests_statement,
    schedules_statement,
    user_roles,
)

__all__ = [
    "MemberPage",
    "admin_assign",
    "admin_extend",
    "admin_remove",
    "admin_renew",
    "admin_update",
    "approve",
    "awaiting_my_decision",
    "cancel",
    "deny",
    "enable_pim",
    "get_request",
    "get_schedule",
    "list_requests",
    "make_eligible",
    "make_permanent",
    "member_page",
    "requests_statement",
    "schedules_statement",
    "self_activate",
    "self_deactivate",
    "self_extend",
    "self_renew",
    "user_roles",
    "wizard_convert",
    "wizard_overview",
]
