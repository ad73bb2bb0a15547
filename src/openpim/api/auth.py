"""Sign-in, step-up MFA, sign-out, personal API tokens, and the caller's own account (/me)."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from openpim.api.deps import (
    PUBLIC,
    SIGNED_IN,
    CallerDep,
    StrictRoute,
    access,
    client_address,
    get_runtime,
    request_id,
)
from openpim.api.scope import directory_of, token_of, user_of
from openpim.auth import mfa, tokens
from openpim.auth.anonymous import anonymous_actor
from openpim.auth.password_check import check_password
from openpim.auth.schemas import (
    ApiTokenCreate,
    ApiTokenCreated,
    SignInRequest,
    SignInResponse,
    StepUpRequest,
    TokenOut,
    TotpConfirmRequest,
    TotpEnrollmentOut,
)
from openpim.auth.sign_in import sign_in as auth_sign_in  # the handlers own the bare names
from openpim.auth.step_up import step_up as auth_step_up
from openpim.directory import service as directory
from openpim.directory.models import User
from openpim.directory.schemas import UserOut

router = APIRouter(tags=["auth"], route_class=StrictRoute)


class TokenListOut(BaseModel):
    value: list[TokenOut]


@router.post(
    "/auth/sign-in",
    summary="Sign in with user name, password and (when enrolled) a TOTP code",
    response_model=SignInResponse,
    openapi_extra=access(PUBLIC),
)
def sign_in(body: SignInRequest, request: Request) -> SignInResponse:
    runtime = get_runtime(request)
    response: SignInResponse | None = None
    address, rid = client_address(request), request_id(request)
    # The password (argon2) is verified in a read transaction, so no writer waits for it.
    with runtime.read(anonymous_actor(), client_address=address, request_id=rid) as ctx:
        check = check_password(
            ctx, body.user_principal_name, body.password.get_secret_value(), body.directory_id
        )
    with runtime.unit(anonymous_actor(), client_address=address, request_id=rid) as ctx:
        outcome = auth_sign_in(ctx, check, body.totp_code)
        if outcome.ok:
            raw, token = outcome.unwrap()
            user = ctx.session.get(User, token.user_id)
            response = SignInResponse.build(raw, token, UserOut.model_validate(user))
    # A refused attempt is raised only now, after its failure record has committed.
    outcome.unwrap()
    assert response is not None
    return response


@router.post(
    "/auth/step-up",
    summary="Prove MFA in the current sign-in session with a TOTP code",
    response_model=TokenOut,
    openapi_extra=access(SIGNED_IN),
)
def step_up(body: StepUpRequest, caller: CallerDep) -> TokenOut:
    result: TokenOut | None = None
    with caller.unit() as ctx:
        outcome = auth_step_up(ctx, token_of(ctx), body.totp_code)
        if outcome.ok:
            result = TokenOut.model_validate(outcome.unwrap())
    outcome.unwrap()
    assert result is not None
    return result


@router.post(
    "/auth/sign-out",
    summary="End the current session (or revoke the API token in use)",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=access(SIGNED_IN),
)
def sign_out(caller: CallerDep) -> Response:
    with caller.unit() as ctx:
        tokens.sign_out(ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/auth/tokens",
    summary="My sessions and personal API tokens",
    response_model=TokenListOut,
    openapi_extra=access(SIGNED_IN),
)
def list_tokens(
    caller: CallerDep,
    kind: Literal["session", "api"] | None = None,
    include_ended: bool = False,
) -> TokenListOut:
    with caller.read() as ctx:
        rows = tokens.list_tokens(ctx, user_of(ctx), kind=kind, include_ended=include_ended)
        return TokenListOut(value=[TokenOut.model_validate(t) for t in rows])


@router.post(
    "/auth/tokens",
    summary="Create a personal API token (shown once)",
    response_model=ApiTokenCreated,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access(SIGNED_IN),
)
def create_token(body: ApiTokenCreate, caller: CallerDep) -> ApiTokenCreated:
    with caller.unit() as ctx:
        raw, token = tokens.create_api_token(ctx, body.name, body.expires_at)
        return ApiTokenCreated(token=raw, details=TokenOut.model_validate(token))


@router.delete(
    "/auth/tokens/{token_id}",
    summary="Revoke one of my tokens (user administrators: anyone's)",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=access(SIGNED_IN),
)
def revoke_token(token_id: uuid.UUID, caller: CallerDep) -> Response:
    with caller.unit() as ctx:
        tokens.revoke_token(ctx, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me",
    summary="My account",
    response_model=UserOut,
    openapi_extra=access(SIGNED_IN),
)
def me(caller: CallerDep) -> UserOut:
    with caller.read() as ctx:
        return UserOut.model_validate(directory.get_user(ctx, directory_of(ctx), user_of(ctx)))


@router.post(
    "/me/mfa/enroll",
    summary="Start (re-)enrolling an authenticator app: returns the new secret once",
    response_model=TotpEnrollmentOut,
    openapi_extra=access(SIGNED_IN),
)
def enroll_mfa(caller: CallerDep) -> TotpEnrollmentOut:
    with caller.unit() as ctx:
        enrollment = mfa.begin_totp_enrollment(ctx, user_of(ctx))
        return TotpEnrollmentOut(secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri)


@router.post(
    "/me/mfa/confirm",
    summary="Confirm the new authenticator app with a code from it",
    response_model=UserOut,
    openapi_extra=access(SIGNED_IN),
)
def confirm_mfa(body: TotpConfirmRequest, caller: CallerDep) -> UserOut:
    with caller.unit() as ctx:
        return UserOut.model_validate(mfa.confirm_totp_enrollment(ctx, user_of(ctx), body.code))
