"""The REST API (/api/v1): a thin adapter that parses, authenticates, opens a unit of work,
calls the services and translates their results and errors. No business rule lives here."""
