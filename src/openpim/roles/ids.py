"""Template ids of the built-in roles that PIM's own rules name (Microsoft's published ids)."""

from __future__ import annotations

import uuid

GLOBAL_ADMINISTRATOR = uuid.UUID("62e90394-69f5-4237-9190-012177145e10")
PRIVILEGED_ROLE_ADMINISTRATOR = uuid.UUID("e8611ab8-c189-46e8-94e1-60213ab1f814")
SECURITY_ADMINISTRATOR = uuid.UUID("194ae4cb-b126-40b2-bd5b-6091b380977d")
SECURITY_READER = uuid.UUID("5d6b6bb7-de71-4623-b4af-96380a352509")
GLOBAL_READER = uuid.UUID("f2ef992c-3afb-46b9-b7cf-a126ee74c451")
USER_ADMINISTRATOR = uuid.UUID("fe930be7-5e62-47db-91af-98c3a49a38b1")

# Roles whose last active holder may never be removed, expired or deactivated.
LAST_HOLDER_PROTECTED = (GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR)

# Roles that may read every PIM page (but change nothing unless also PRA).
PIM_READER_ROLES = frozenset(
    {
        GLOBAL_ADMINISTRATOR,
        PRIVILEGED_ROLE_ADMINISTRATOR,
        SECURITY_ADMINISTRATOR,
        SECURITY_READER,
        GLOBAL_READER,
    }
)
