"""Notifications: outbox rows written in the same transaction as the change they announce."""
