"""The read-only hot path: which roles does a user hold active at instant t."""
