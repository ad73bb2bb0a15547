"""The tamper-evident audit history: writer (same transaction), hash chain, queries, verify,
the catalogue of action names."""
