"""Authentication: argon2 passwords, TOTP, bearer sessions, personal API tokens, rate limits."""
