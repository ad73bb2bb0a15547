"""Requests, eligibility and assignment schedules: every change of membership starts here."""
