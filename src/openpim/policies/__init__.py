"""Role settings: one policy per (directory, role) with Microsoft's defaults and bounds."""
