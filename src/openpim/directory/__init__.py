"""Directories (tenants), their verified domains, and their users."""
