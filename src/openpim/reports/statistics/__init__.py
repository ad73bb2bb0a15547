"""Per-role statistics over a date range: activations per day, distinct users, average
duration, and eligible vs. assigned (permanent) memberships over time.

Days are UTC calendar days; an activation belongs to the day it started. A day's membership
numbers are the schedules live at its last instant (or at the range's end, if earlier); the
per-role summary counts the members live at the range's end (or now, if earlier).

Where each part lives:

- report.py: `role_statistics` (the entry point), the range check, averages, the summaries.
- results.py: what a report returns (`RoleStatistics`, `DayPoint`, `RoleSummary`).
- closed_days.py: which days are closed, how long they are remembered, the background
  refresh (`refresh_closed_days`), `clear_cache`.
- activations.py: counting activations per day and role (the covering index, exact lengths).
- memberships.py: counting the schedules live at given instants or at the end of each day.
- user_numbering.py: users as small numbers, so remembered days stay small.
- days.py: UTC days in SQL and in Python.
"""
