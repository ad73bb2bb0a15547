"""History and reports: activation history, assignment changes, statistics, exports."""
