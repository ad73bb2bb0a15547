"""The hash chain: canonical JSON of an event, and the hash that links it to its predecessor."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

GENESIS_HASH = "0" * 64

# The fields that are hashed, in a fixed list: adding a column must not silently change hashes.
HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "directory_id",
    "actor_id",
    "actor_label",
    "action",
    "result",
    "target_user_id",
    "target_label",
    "role_id",
    "role_label",
    "request_id",
    "schedule_id",
    "justification",
    "ticket_number",
    "ticket_system",
    "start_at",
    "end_at",
    "detail",
    "client_address",
    "http_request_id",
)


SORTED_FIELDS: tuple[str, ...] = tuple(sorted(HASHED_FIELDS))
# canonical_json's output as a % template: json.dumps(sort_keys=True, separators=(",", ":"))
# of the hashed fields, each value a ready JSON token. The bulk seed generator fills it.
BODY_TEMPLATE = "{" + ",".join(f'"{name}":%s' for name in SORTED_FIELDS) + "}"

_encode: Callable[[str], str] = encode_basestring


def text_token(value: str | None) -> str:
    """The JSON token of a text value, exactly as json.dumps(ensure_ascii=False) writes it."""
    return "null" if value is None else _encode(value)


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def canonical_json(fields: dict[str, Any]) -> str:
    body = {name: _canonical_value(fields.get(name)) for name in HASHED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_json(fields).encode("utf-8"))
    return digest.hexdigest()
