"""`python -m openpim.cli`, the same as the `openpim` console script."""

from openpim.cli import main

main()
