"""Small shared building blocks: the clock, domain errors, durations, pagination."""
