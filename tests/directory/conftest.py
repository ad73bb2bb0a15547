from tests.auth.helpers import fast_hasher_fixture

__all__ = ["fast_hasher_fixture"]
