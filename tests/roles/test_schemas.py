from __future__ import annotations

import pytest
from pydantic import ValidationError

from openpim.roles.schemas import RoleCreate, RoleOut, RoleRename
from openpim.roles.service import get_role
from tests.factories import GA, Env


def test_role_out_reads_a_role_row(env: Env) -> None:
    directory, admin = env.pim_directory()
    with env.ctx(admin) as ctx:
        out = RoleOut.model_validate(get_role(ctx, directory.id, GA))
    assert out.id == GA
    assert out.display_name == "Global Administrator"
    assert out.is_built_in and out.mfa_always_required and out.directory_id is None


def test_create_and_rename_bodies_refuse_unknown_fields_and_bad_lengths() -> None:
    assert RoleCreate(display_name="Payroll").description == ""
    with pytest.raises(ValidationError):
        RoleCreate.model_validate({"display_name": "Payroll", "is_built_in": True})
    with pytest.raises(ValidationError):
        RoleCreate(display_name="")
    with pytest.raises(ValidationError):
        RoleCreate(display_name="x" * 201)
    assert RoleRename(display_name="New").description is None
    with pytest.raises(ValidationError):
        RoleRename.model_validate({"display_name": "New", "id": "x"})
