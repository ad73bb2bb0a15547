"""The tamper-evident audit history: writer (same transaction), hash chain, queries, verify."""
