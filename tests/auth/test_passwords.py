from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from openpim.auth import passwords
from openpim.kit.errors import ValidationFailed


def test_default_hasher_is_argon2id_and_round_trips() -> None:
    # The one test that pays for production parameters.
    previous = passwords.use_hasher(PasswordHasher())
    try:
        stored = passwords.hash_password("a long enough secret")
        assert stored.startswith("$argon2id$")
        assert "m=65536,t=3,p=4" in stored
        assert passwords.verify_password(stored, "a long enough secret")
        assert not passwords.verify_password(stored, "a long enough secreT")
        assert not passwords.needs_rehash(stored)
    finally:
        passwords.use_hasher(previous)


def test_hashes_are_salted() -> None:
    assert passwords.hash_password("same password!") != passwords.hash_password("same password!")


def test_malformed_stored_hash_is_a_mismatch_and_needs_rehash() -> None:
    assert not passwords.verify_password("not-a-hash", "whatever password")
    assert passwords.needs_rehash("not-a-hash")


def test_needs_rehash_when_parameters_change() -> None:
    stored = passwords.hash_password("a long enough secret")
    assert not passwords.needs_rehash(stored)
    passwords.use_hasher(PasswordHasher(time_cost=2, memory_cost=8, parallelism=1))
    assert passwords.needs_rehash(stored)
    assert passwords.verify_password(stored, "a long enough secret")


def test_only_argon2id_hashers_are_accepted() -> None:
    with pytest.raises(ValueError):
        passwords.use_hasher(PasswordHasher(type=Type.I))


def test_over_long_passwords_are_refused_without_hashing_them_whole() -> None:
    stored = passwords.hash_password("x" * passwords.MAX_PASSWORD_LENGTH)
    assert passwords.verify_password(stored, "x" * passwords.MAX_PASSWORD_LENGTH)
    assert not passwords.verify_password(stored, "x" * (passwords.MAX_PASSWORD_LENGTH + 1))


def test_dummy_verify_uses_the_current_parameters() -> None:
    passwords.dummy_verify("anything")
    first = passwords._dummy_hash
    passwords.use_hasher(PasswordHasher(time_cost=2, memory_cost=8, parallelism=1))
    passwords.dummy_verify("anything")
    assert first is not None and passwords._dummy_hash is not None
    assert "t=2" in passwords._dummy_hash and "t=2" not in first


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short pass!", "password_too_short"),
        ("x" * 1025, "password_too_long"),
        (" " * 12, "password_blank"),
    ],
)
def test_policy_refusals_name_the_password_field(password: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        passwords.check_policy(password)
    assert (caught.value.field, caught.value.code) == ("password", code)


def test_policy_accepts_twelve_characters() -> None:
    passwords.check_policy("twelve chars")
