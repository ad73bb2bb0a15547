"""Security alerts: configuration, scans, incidents, dismissal and one-click fixes."""
