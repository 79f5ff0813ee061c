"""Worker transport (see CONTRIBUTING.md for the layout)."""
