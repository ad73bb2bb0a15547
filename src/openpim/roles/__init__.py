"""The role catalog: Microsoft's built-in directory roles plus custom roles per directory."""
