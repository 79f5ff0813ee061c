"""Worker control plane (see CONTRIBUTING.md for the layout)."""
