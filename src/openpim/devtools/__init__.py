"""Developer tools: the benchmark dataset generator (python -m openpim.devtools.seed)."""
