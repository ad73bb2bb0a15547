"""Deterministic generators of a realistic PIM population: directories, users and schedules.

Values come out in bulk.py's neutral text form (uuid hex, naive UTC instants, 1/0 booleans).
Time is integer microseconds since the epoch inside this module: cheap arithmetic for a
million schedules, rendered to text once per value.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from openpim.roles.catalog import BUILT_IN_ROLES
from openpim.roles.ids import GLOBAL_ADMINISTRATOR as GA
from openpim.roles.ids import PRIVILEGED_ROLE_ADMINISTRATOR as PRA
from openpim.roles.ids import SECURITY_ADMINISTRATOR, SECURITY_READER, USER_ADMINISTRATOR

SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ADMIN_PASSWORD = "bench-Admin-password-1"  # noqa: S105 - a published benchmark credential


def to_us(instant: datetime) -> int:
    delta = instant.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND_US + delta.microseconds


class Instants:
    """Microseconds -> 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC), fast for millions of values."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def text(self, us: int) -> str:
        day, rest = divmod(us, DAY_US)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%d ")
            self._days[day] = prefix
        secs, frac = divmod(rest, SECOND_US)
        hours, secs = divmod(secs, 3600)
        minutes, secs = divmod(secs, 60)
        return "%s%02d:%02d:%02d.%06d" % (prefix, hours, minutes, secs, frac)  # noqa: UP031


def instant_token(text: str) -> str:
    """The canonical JSON token (chain.canonical_json) of a neutral instant text."""
    return f'"{text[:10]}T{text[11:]}Z"'


def uuid_token(hex32: str) -> str:
    return f'"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"'


def new_hex(rng: random.Random) -> str:
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


@dataclass
class Population:
    """What the audit generator and the summary need to know about the generated rows."""

    now_us: int
    directory_hex: list[str] = field(default_factory=list)
    directory_names: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    user_hex: list[str] = field(default_factory=list)
    user_upn: list[str] = field(default_factory=list)
    user_dir: list[int] = field(default_factory=list)
    user_enabled: list[bool] = field(default_factory=list)
    admins: list[dict[str, Any]] = field(default_factory=list)
    admin_index: list[int] = field(default_factory=list)
    role_hex: list[str] = field(default_factory=list)
    role_name: list[str] = field(default_factory=list)
    role_weight: list[float] = field(default_factory=list)
    # Samples of schedules for audit events: (user index, role index, schedule hex, start, end)
    activations: list[tuple[int, int, str, int, int | None]] = field(default_factory=list)
    eligibilities: list[tuple[int, int, str, int, int | None]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _totp_secret(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "".join(rng.choice(alphabet) for _ in range(32))


def roles_for(pop: Population) -> None:
    """The privileged built-in roles, weighted: many helpdesk-like roles, few GAs and PRAs."""
    for role in BUILT_IN_ROLES:
        if not role.is_privileged:
            continue
        role_id = uuid.UUID(role.id)
        weight = {GA: 1.0, PRA: 0.5, SECURITY_ADMINISTRATOR: 3.0}.get(role_id, 6.0)
        pop.role_hex.append(role_id.hex)
        pop.role_name.append(role.name)
        pop.role_weight.append(weight)


def directory_rows(pop: Population, rng: random.Random, count: int) -> Iterator[tuple[Any, ...]]:
    inst = Instants()
    for i in range(count):
        pop.directory_hex.append(new_hex(rng))
        pop.directory_names.append(f"Bench Directory {i + 1}")
        pop.domains.append(f"bench{i + 1}.example")
    for i, hex_id in enumerate(pop.directory_hex):
        created = inst.text(pop.now_us - 900 * DAY_US)
        # PIM was enabled by the directory's first admin (filled in when the admins exist).
        yield (hex_id, pop.directory_names[i], created, None, None, created)


def domain_rows(pop: Population, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    inst = Instants()
    for i, hex_id in enumerate(pop.directory_hex):
        yield (new_hex(rng), hex_id, pop.domains[i], inst.text(pop.now_us - 900 * DAY_US))


ADMIN_PLAN: tuple[tuple[str, tuple[uuid.UUID, ...], tuple[uuid.UUID, ...]], ...] = (
    # (local part, permanent active roles, eligible roles)
    ("admin1", (GA, PRA, SECURITY_ADMINISTRATOR), ()),
    ("admin2", (GA, PRA), ()),
    ("admin3", (SECURITY_READER,), (SECURITY_ADMINISTRATOR,)),
    ("admin4", (), (GA, PRA, USER_ADMINISTRATOR)),
    ("admin5", (), (GA, USER_ADMINISTRATOR)),
)


def user_rows(
    pop: Population, rng: random.Random, total: int, password_hash: str
) -> Iterator[tuple[Any, ...]]:
    """Admins first (directory 1 gets five, others two), then ordinary members."""
    inst = Instants()
    now = pop.now_us
    for d in range(len(pop.directory_hex)):
        plan = ADMIN_PLAN if d == 0 else ADMIN_PLAN[:2]
        for local, active, eligible in plan:
            if len(pop.user_hex) >= total:
                break
            hex_id, secret = new_hex(rng), _totp_secret(rng)
            upn = f"{local}@{pop.domains[d]}"
            pop.admin_index.append(len(pop.user_hex))
            pop.admins.append(
                {
                    "id": str(uuid.UUID(hex_id)),
                    "user_principal_name": upn,
                    "password": ADMIN_PASSWORD,
                    "totp_secret": secret,
                    "directory_id": str(uuid.UUID(pop.directory_hex[d])),
                    "permanent_roles": [str(r) for r in active],
                    "eligible_roles": [str(r) for r in eligible],
                }
            )
            _remember(pop, hex_id, upn, d, True)
            enrolled = inst.text(now - 800 * DAY_US)
            yield (
                hex_id, pop.directory_hex[d], upn, local.title(), "organizational", 1,
                password_hash, secret, enrolled, None, inst.text(now - 2 * DAY_US),
                enrolled, None,
            )  # fmt: skip
    n_dirs = len(pop.directory_hex)
    i = 0
    while len(pop.user_hex) < total:
        d = i % n_dirs
        external = rng.random() < 0.01
        upn = f"guest{i:06d}@outlook.example" if external else f"user{i:06d}@{pop.domains[d]}"
        enabled = rng.random() >= 0.02
        created = now - rng.randrange(30 * DAY_US, 800 * DAY_US)
        mfa = rng.random() < 0.5
        roll = rng.random()
        if roll < 0.85:
            last_sign_in: int | None = now - rng.randrange(HOUR_US, 60 * DAY_US)
        elif roll < 0.95:
            last_sign_in = now - rng.randrange(60 * DAY_US, 400 * DAY_US)
        else:
            last_sign_in = None
        hex_id = new_hex(rng)
        _remember(pop, hex_id, upn, d, enabled)
        yield (
            hex_id, pop.directory_hex[d], upn, f"Bench User {i}",
            "external" if external else "organizational", 1 if enabled else 0, None,
            _totp_secret(rng) if mfa else None, inst.text(created) if mfa else None, None,
            None if last_sign_in is None else inst.text(max(last_sign_in, created)),
            inst.text(created), None if enabled else inst.text(now - 3 * DAY_US),
        )  # fmt: skip
        i += 1


def _remember(pop: Population, hex_id: str, upn: str, d: int, enabled: bool) -> None:
    pop.user_hex.append(hex_id)
    pop.user_upn.append(upn)
    pop.user_dir.append(d)
    pop.user_enabled.append(enabled)


USER_COLUMNS = (
    "id", "directory_id", "user_principal_name", "display_name", "account_kind", "enabled",
    "password_hash", "totp_secret", "totp_enrolled_at", "totp_last_step", "last_sign_in_at",
    "created_at", "disabled_at",
)  # fmt: skip
DIRECTORY_COLUMNS = (
    "id", "name", "created_at", "pim_enabled_by_id", "wizard_completed_at", "pim_enabled_at",
)  # fmt: skip
DOMAIN_COLUMNS = ("id", "directory_id", "domain", "created_at")
_SCHEDULE = (
    "id", "directory_id", "principal_id", "role_id", "start_at", "end_at", "request_id",
    "created_via", "created_at", "ended_reason", "ended_by_request_id", "end_recorded_at",
)  # fmt: skip
ELIGIBILITY_COLUMNS = _SCHEDULE
ASSIGNMENT_COLUMNS = (*_SCHEDULE, "assignment_type", "eligibility_id")
