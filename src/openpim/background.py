"""Every background loop of a process, started and stopped together.

Three threads, so a slow part never delays a fast one:
- the expiry worker (openpim.worker): records schedule ends within a second;
- notification delivery (openpim.notifications.delivery): sends the outbox, plus the expiry
  reminder and weekly digest scans;
- housekeeping: scheduled alert scans (seconds at 100,000 users), access reviews that start,
  end, auto-apply or recur, keeping this process's report statistics counted, and logging the
  audit chain head for log shippers to keep as anchors (audit/anchors.py).
All are safe with several processes at once (row locks and SKIP LOCKED), so each server
process runs them (`openpim serve`) or a dedicated `openpim worker` does.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from openpim.audit.anchors import HeadLog
from openpim.runtime import Runtime

log = logging.getLogger("openpim.background")

HOUSEKEEPING_INTERVAL_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


def housekeeping_once(runtime: Runtime, head_log: HeadLog | None = None) -> None:
    from openpim.alerts.service import scan_due
    from openpim.reports.service import refresh_statistics
    from openpim.reviews.service import reviews_due

    if head_log is not None:  # first: cheap, and a failing scan must not hold the anchors back
        head_log.maybe_log(runtime.db.engine, runtime.clock.now())
    scan_due(runtime)
    reviews_due(runtime)
    refresh_statistics(runtime)


def _housekeeping_loop(runtime: Runtime, stop: threading.Event) -> None:
    from openpim.worker import describe_error

    head_log = HeadLog(runtime.settings.audit_head_log_interval)
    while not stop.is_set():
        try:
            housekeeping_once(runtime, head_log)
        except Exception as exc:  # a failed pass is retried at the next interval
            log.error("housekeeping pass failed: %s", describe_error(exc))
        stop.wait(HOUSEKEEPING_INTERVAL_SECONDS)


@dataclass
class BackgroundLoops:
    threads: list[tuple[threading.Thread, threading.Event]] = field(default_factory=list)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        for _, event in self.threads:
            event.set()
        for thread, _ in self.threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s did not stop within %ss", thread.name, timeout)

    def wait(self, stop: threading.Event) -> None:
        """Block until `stop` is set (the `openpim worker` command), then stop every loop."""
        stop.wait()
        self.stop()


def start(runtime: Runtime) -> BackgroundLoops:
    from openpim.notifications import delivery
    from openpim.worker import start_in_thread

    loops = BackgroundLoops()
    loops.threads.append(start_in_thread(runtime))
    loops.threads.append(delivery.start_in_thread(runtime))
    stop = threading.Event()
    thread = threading.Thread(
        target=_housekeeping_loop, args=(runtime, stop), name="openpim-housekeeping", daemon=True
    )
    thread.start()
    loops.threads.append((thread, stop))
    log.info("background loops started: %s", ", ".join(t.name for t, _ in loops.threads))
    return loops
