"""Database plumbing: declarative base, UTC datetime type, engines and the unit of work."""
