"""Access reviews: a snapshot of a role's members, reviewers' decisions, and applying them."""
