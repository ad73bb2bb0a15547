"""Microsoft's own Python SDK (msgraph-sdk) against OpenPIM on a real socket.

uvicorn serves create_app(runtime=<the test runtime with its FrozenClock>) on 127.0.0.1; the
SDK's GraphServiceClient talks to it through a GraphRequestAdapter whose base URL is the server
and whose auth provider hands over a static bearer token. Nothing is mocked: the requests are
the SDK's own (including its "1:00:00" durations), the answers are parsed by its own models.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest

from openpim.app import create_app
from openpim.runtime import Runtime
from tests.factories import HELPDESK_ADMIN, PASSWORD_ADMIN, Env
from tests.graph.helpers import Graph, World
from tests.live_server import serving

msgraph = pytest.importorskip("msgraph", reason="the graph-sdk extra is not installed")

from kiota_abstractions.authentication import (  # noqa: E402
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration  # noqa: E402
from msgraph import GraphRequestAdapter, GraphServiceClient  # noqa: E402
from msgraph.generated.models.expiration_pattern import ExpirationPattern  # noqa: E402
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType  # noqa: E402
from msgraph.generated.models.o_data_errors.o_data_error import ODataError  # noqa: E402
from msgraph.generated.models.request_schedule import RequestSchedule  # noqa: E402
from msgraph.generated.models.ticket_info import TicketInfo  # noqa: E402
from msgraph.generated.models.unified_role_assignment_schedule_request import (  # noqa: E402
    UnifiedRoleAssignmentScheduleRequest,
)
from msgraph.generated.models.unified_role_eligibility_schedule_request import (  # noqa: E402
    UnifiedRoleEligibilityScheduleRequest,
)
from msgraph.generated.models.unified_role_management_policy_expiration_rule import (  # noqa: E402
    UnifiedRoleManagementPolicyExpirationRule,
)
from msgraph.generated.models.unified_role_management_policy_rule_target import (  # noqa: E402
    UnifiedRoleManagementPolicyRuleTarget,
)
from msgraph.generated.models.unified_role_schedule_request_actions import (  # noqa: E402
    UnifiedRoleScheduleRequestActions as Action,
)
from msgraph_core import GraphClientFactory  # noqa: E402

T = TypeVar("T")
# The SDK's generated modules warn about their own deprecated classes as they are imported.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"),
]


class StaticToken(AccessTokenProvider):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator(["127.0.0.1"])


@pytest.fixture
def server_url(runtime: Runtime) -> Iterator[str]:
    with serving(create_app(runtime=runtime, start_worker=False)) as url:
        yield url


def run(make: Callable[[GraphServiceClient], Awaitable[T]], url: str, token: str) -> T:
    """One SDK call on a fresh event loop (the SDK is async; the tests are not)."""

    async def call() -> T:
        # The SDK's middleware transport does not pass aclose() on, so the connection pool is
        # ours to close: its sockets must not outlive the test.
        pool = httpx.AsyncHTTPTransport()
        http = GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(transport=pool, timeout=30)
        )
        auth = BaseBearerTokenAuthenticationProvider(StaticToken(token))
        adapter = GraphRequestAdapter(auth, client=http)
        adapter.base_url = f"{url}/v1.0"
        try:
            return await make(GraphServiceClient(request_adapter=adapter))
        finally:
            await http.aclose()
            await pool.aclose()

    return asyncio.run(call())


def odata_code(make: Callable[[GraphServiceClient], Awaitable[Any]], url: str, token: str) -> str:
    with pytest.raises(ODataError) as caught:
        run(make, url, token)
    assert caught.value.error is not None
    return str(caught.value.error.code)


def totp_header(code: str) -> RequestConfiguration[Any]:
    config: RequestConfiguration[Any] = RequestConfiguration()
    config.headers.add("X-OpenPIM-TOTP", code)
    return config


def _activation(
    env: Env, principal: uuid.UUID, role: uuid.UUID, **extra: Any
) -> UnifiedRoleAssignmentScheduleRequest:
    return UnifiedRoleAssignmentScheduleRequest(
        action=Action.SelfActivate,
        principal_id=str(principal),
        role_definition_id=str(role),
        directory_scope_id="/",
        schedule_info=RequestSchedule(
            start_date_time=env.now,
            expiration=ExpirationPattern(
                type=ExpirationPatternType.AfterDuration, duration=timedelta(hours=1)
            ),
        ),
        **extra,
    )


def test_a_user_lists_activates_sees_and_deactivates_a_role(
    env: Env, world: World, graph: Graph, server_url: str
) -> None:
    alice = world.alice
    token = graph.token(alice, mfa=False)
    rm = "role_management"

    async def eligible(c: GraphServiceClient) -> Any:
        schedules = getattr(c, rm).directory.role_eligibility_schedules
        return await schedules.filter_by_current_user_with_on("principal").get()

    mine = run(eligible, server_url, token)
    assert {s.role_definition_id for s in mine.value} == {str(HELPDESK_ADMIN), str(PASSWORD_ADMIN)}
    assert all(s.principal_id == str(alice.id) for s in mine.value)

    body = _activation(
        env,
        alice.id,
        HELPDESK_ADMIN,
        justification="INC-42 mail flow is down",
        ticket_info=TicketInfo(ticket_number="INC-42", ticket_system="ServiceNow"),
    )

    async def activate(c: GraphServiceClient) -> Any:
        requests = c.role_management.directory.role_assignment_schedule_requests
        return await requests.post(body, request_configuration=totp_header(env.totp(alice)))

    granted = run(activate, server_url, token)
    assert granted.status == "Provisioned"
    assert granted.action == Action.SelfActivate
    assert granted.ticket_info.ticket_number == "INC-42"
    assert granted.schedule_info.expiration.end_date_time == env.now + timedelta(hours=1)

    async def instances(c: GraphServiceClient) -> Any:
        found = c.role_management.directory.role_assignment_schedule_instances
        return await found.filter_by_current_user_with_on("principal").get()

    active = run(instances, server_url, token).value
    assert [(i.role_definition_id, i.assignment_type) for i in active] == [
        (str(HELPDESK_ADMIN), "Activated")
    ]
    assert active[0].end_date_time == env.now + timedelta(hours=1)

    env.clock.advance(timedelta(minutes=10))
    body = UnifiedRoleAssignmentScheduleRequest(
        action=Action.SelfDeactivate,
        principal_id=str(alice.id),
        role_definition_id=str(HELPDESK_ADMIN),
        directory_scope_id="/",
    )

    async def deactivate(c: GraphServiceClient) -> Any:
        return await c.role_management.directory.role_assignment_schedule_requests.post(body)

    revoked = run(deactivate, server_url, token)
    assert revoked.status == "Revoked"
    assert run(instances, server_url, token).value == []


def test_an_admin_assigns_removes_patches_a_rule_and_reads_the_audit(
    env: Env, world: World, graph: Graph, server_url: str
) -> None:
    token = graph.token(world.admin)
    bob = world.bob
    ends = env.now + timedelta(days=30)
    assign = UnifiedRoleEligibilityScheduleRequest(
        action=Action.AdminAssign,
        principal_id=str(bob.id),
        role_definition_id=str(PASSWORD_ADMIN),
        directory_scope_id="/",
        justification="on call rota",
        schedule_info=RequestSchedule(
            start_date_time=env.now,
            expiration=ExpirationPattern(
                type=ExpirationPatternType.AfterDateTime, end_date_time=ends
            ),
        ),
    )

    async def post_eligibility(c: GraphServiceClient, body: Any) -> Any:
        return await c.role_management.directory.role_eligibility_schedule_requests.post(body)

    made = run(lambda c: post_eligibility(c, assign), server_url, token)
    assert (made.status, made.action) == ("Provisioned", Action.AdminAssign)

    async def bobs_eligibilities(c: GraphServiceClient) -> Any:
        from msgraph.generated.role_management.directory.role_eligibility_schedules.role_eligibility_schedules_request_builder import (  # noqa: E501
            RoleEligibilitySchedulesRequestBuilder as Builder,
        )

        params = Builder.RoleEligibilitySchedulesRequestBuilderGetQueryParameters(
            filter=f"principalId eq '{bob.id}'", expand=["principal"]
        )
        config = RequestConfiguration(query_parameters=params)
        return await c.role_management.directory.role_eligibility_schedules.get(config)

    listed = run(bobs_eligibilities, server_url, token).value
    assert len(listed) == 1
    assert listed[0].schedule_info.expiration.end_date_time == ends
    assert listed[0].principal.user_principal_name == bob.user_principal_name

    remove = UnifiedRoleEligibilityScheduleRequest(
        action=Action.AdminRemove,
        principal_id=str(bob.id),
        role_definition_id=str(PASSWORD_ADMIN),
        directory_scope_id="/",
    )
    removed = run(lambda c: post_eligibility(c, remove), server_url, token)
    assert removed.status == "Revoked"
    assert run(bobs_eligibilities, server_url, token).value == []

    async def policy_id(c: GraphServiceClient) -> str:
        from msgraph.generated.policies.role_management_policy_assignments.role_management_policy_assignments_request_builder import (  # noqa: E501
            RoleManagementPolicyAssignmentsRequestBuilder as Builder,
        )

        flt = (
            f"scopeId eq '/' and scopeType eq 'DirectoryRole' "
            f"and roleDefinitionId eq '{PASSWORD_ADMIN}'"
        )
        params = Builder.RoleManagementPolicyAssignmentsRequestBuilderGetQueryParameters(filter=flt)
        found = await c.policies.role_management_policy_assignments.get(
            RequestConfiguration(query_parameters=params)
        )
        assert len(found.value) == 1
        return str(found.value[0].policy_id)

    pid = run(policy_id, server_url, token)

    def rule_builder(c: GraphServiceClient) -> Any:
        policy = c.policies.role_management_policies.by_unified_role_management_policy_id(pid)
        return policy.rules.by_unified_role_management_policy_rule_id(
            "Expiration_EndUser_Assignment"
        )

    async def read_rule(c: GraphServiceClient) -> Any:
        return await rule_builder(c).get()

    before = run(read_rule, server_url, token)
    assert isinstance(before, UnifiedRoleManagementPolicyExpirationRule)
    assert before.maximum_duration == timedelta(hours=8)

    patch = UnifiedRoleManagementPolicyExpirationRule(
        id="Expiration_EndUser_Assignment",
        is_expiration_required=True,
        maximum_duration=timedelta(hours=4),
        target=UnifiedRoleManagementPolicyRuleTarget(caller="EndUser", level="Assignment"),
    )

    async def patch_rule(c: GraphServiceClient) -> Any:
        return await rule_builder(c).patch(patch)

    run(patch_rule, server_url, token)
    assert run(read_rule, server_url, token).maximum_duration == timedelta(hours=4)

    async def audits(c: GraphServiceClient) -> Any:
        from msgraph.generated.audit_logs.directory_audits.directory_audits_request_builder import (
            DirectoryAuditsRequestBuilder as Builder,
        )

        params = Builder.DirectoryAuditsRequestBuilderGetQueryParameters(
            filter="activityDateTime ge 2026-01-01T00:00:00Z", top=50
        )
        return await c.audit_logs.directory_audits.get(
            RequestConfiguration(query_parameters=params)
        )

    actions = [a.activity_display_name for a in run(audits, server_url, token).value]
    assert actions[:3] == ["policy.updated", "eligibility.removed", "eligibility.added"]


def test_error_paths_raise_odata_errors_with_graphs_codes(
    env: Env, world: World, graph: Graph, server_url: str
) -> None:
    alice = world.alice
    token = graph.token(alice, mfa=False)

    def post(body: Any, totp: str | None = None) -> Callable[[GraphServiceClient], Awaitable[Any]]:
        async def call(c: GraphServiceClient) -> Any:
            requests = c.role_management.directory.role_assignment_schedule_requests
            config = totp_header(totp) if totp else None
            return await requests.post(body, request_configuration=config)

        return call

    no_mfa = _activation(env, alice.id, HELPDESK_ADMIN, justification="x")
    assert (
        odata_code(post(no_mfa), server_url, token) == "RoleAssignmentRequestPolicyValidationFailed"
    )
    no_reason = _activation(env, alice.id, HELPDESK_ADMIN)
    with pytest.raises(ODataError) as caught:
        run(post(no_reason, env.totp(alice)), server_url, token)
    assert caught.value.response_status_code == 400
    assert '["JustificationRule"]' in str(caught.value.error.message)

    ok = _activation(env, alice.id, HELPDESK_ADMIN, justification="x")
    run(post(ok, env.totp(alice)), server_url, token)
    env.clock.advance(timedelta(seconds=31))
    assert odata_code(post(ok, env.totp(alice)), server_url, token) == "RoleAssignmentExists"

    too_long = _activation(env, alice.id, PASSWORD_ADMIN, justification="x")
    too_long.schedule_info.expiration.duration = timedelta(days=2, minutes=30)
    with pytest.raises(ODataError) as caught:
        run(post(too_long, env.totp(alice)), server_url, token)
    assert '["ExpirationRule"]' in str(caught.value.error.message)

    naive = _activation(env, alice.id, PASSWORD_ADMIN, justification="x")
    naive.schedule_info.start_date_time = env.now.replace(tzinfo=None)
    with pytest.raises(ODataError) as caught:
        run(post(naive), server_url, token)
    assert caught.value.error.code == "Request_BadRequest"
    assert "UTC offset" in str(caught.value.error.message)

    async def everyone(c: GraphServiceClient) -> Any:
        return await c.role_management.directory.role_assignment_schedules.get()

    assert odata_code(everyone, server_url, token) == "Authorization_RequestDenied"

    async def missing(c: GraphServiceClient) -> Any:
        requests = c.role_management.directory.role_assignment_schedule_requests
        return await requests.by_unified_role_assignment_schedule_request_id(
            str(uuid.uuid4())
        ).get()

    assert odata_code(missing, server_url, token) == "Request_ResourceNotFound"
    assert odata_code(everyone, server_url, "not-a-token") == "InvalidAuthenticationToken"
