from __future__ import annotations

from openpim.auth.schemas import SignInResponse, TokenOut
from openpim.directory.schemas import DirectoryOut, UserOut
from openpim.directory.service import list_domains
from tests.auth.helpers import session
from tests.factories import Env


def test_sign_in_response_carries_the_raw_token_once_and_no_hash(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    raw, token = session(env, alice, mfa=True)

    body = SignInResponse.build(raw, token, UserOut.model_validate(alice)).model_dump(mode="json")

    assert body["access_token"] == raw and body["token_type"] == "bearer"
    assert body["mfa_verified"] is True
    assert body["session"]["id"] == str(token.id)
    assert token.token_hash not in str(body)
    assert "token_hash" not in TokenOut.model_fields


def test_directory_out_lists_its_domains(env: Env) -> None:
    directory = env.directory(domain="fabrikam.example")
    with env.ctx() as ctx:
        out = DirectoryOut.build(directory, list_domains(ctx, directory.id))
    assert out.domains == ["fabrikam.example"]
    assert out.name == directory.name
