"""Worker executor (see CONTRIBUTING.md for the layout)."""
