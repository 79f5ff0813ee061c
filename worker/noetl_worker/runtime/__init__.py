"""Worker runtime (see CONTRIBUTING.md for the layout)."""
