"""Portal pages, one module per area of the seed system's portal."""
