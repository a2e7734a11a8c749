"""reports step of the workflow."""
