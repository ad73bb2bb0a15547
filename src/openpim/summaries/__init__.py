"""Read-only summaries for the portal: member counts per role and activations over time."""
