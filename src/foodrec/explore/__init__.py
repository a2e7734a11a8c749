"""explore step of the workflow."""
