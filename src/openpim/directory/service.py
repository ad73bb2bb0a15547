"""Every directory operation, for adapters: directories, verified domains and users.

Adapters (API, Graph, CLI, portal) and tests import from here, as they do from
assignments/service.py; each operation lives in the module named for its subject:

- directories.py: directories and their verified domains (a domain proves membership of one
  directory only; one with users' names on it cannot be removed)
- account_kind.py: a user is organizational when their UPN's domain is verified in their
  directory, else external; stored, and kept in step when a domain is verified
- users.py: creating users, who may read them, listing them, setting a password
- status.py: disabling (ends sessions and running activations, withdraws pending requests;
  never the last Global Administrator or PRA) and enabling
- bootstrap.py: the first run
- common.py: name validation, row lookups, inserts and the audit line
"""

from __future__ import annotations

from openpim.directory.bootstrap import bootstrap, is_bootstrapped
from openpim.directory.common import normalize_domain, normalize_upn
from openpim.directory.directories import (
    add_verified_domain,
    create_directory,
    directory_for_domain,
    get_directory,
    list_domains,
    my_directories,
    remove_verified_domain,
)
from openpim.directory.status import disable_user, enable_user
from openpim.directory.users import (
    MAX_PAGE,
    UserPage,
    create_user,
    find_user_by_upn,
    get_user,
    list_users,
    set_password,
    users_statement,
)

__all__ = [
    "MAX_PAGE",
    "UserPage",
    "add_verified_domain",
    "bootstrap",
    "create_directory",
    "create_user",
    "directory_for_domain",
    "disable_user",
    "enable_user",
    "find_user_by_upn",
    "get_directory",
    "get_user",
    "is_bootstrapped",
    "list_domains",
    "list_users",
    "my_directories",
    "normalize_domain",
    "normalize_upn",
    "remove_verified_domain",
    "set_password",
    "users_statement",
]
