"""Verifying the audit chain for a signed-in reader: who may, and one run at a time.

The chain check itself is audit.verify (verify_chain) and audit.anchors (verify_anchored);
this is the rule for starting one from a request, which the API calls.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

from sqlalchemy import Engine

from openpim.audit.anchors import Anchor, verify_anchored
from openpim.audit.verify import VerifyResult
from openpim.auth.permissions import require_read_all
from openpim.kit.context import Ctx
from openpim.kit.errors import RateLimited

# One whole-chain verification per process at a time. It reads every event (over a minute at
# 10M events), so without this any reader calling it in a loop would take the server's CPU and
# database from everyone else. `openpim audit verify` at the shell is not held back by it.
_verifying = threading.Lock()
VERIFY_RETRY_AFTER_SECONDS = 30


def verify(ctx: Ctx, directory_id: uuid.UUID, anchors: Sequence[Anchor] = ()) -> VerifyResult:
    """Check the whole audit hash chain, and that it still holds each anchor (a hash recorded
    outside the database). PIM's readers only; reads in its own snapshot; one at a time."""
    require_read_all(ctx, directory_id)
    if not _verifying.acquire(blocking=False):
        raise RateLimited(
            "A verification of the audit chain is already running on this server; "
            "try again when it has finished.",
            retry_after_seconds=VERIFY_RETRY_AFTER_SECONDS,
            code="verification_running",
        )
    try:
        bind = ctx.session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        return verify_anchored(engine, anchors)
    finally:
        _verifying.release()
