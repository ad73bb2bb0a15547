"""One module per state change of membership, each with its guards, locks and audit."""
