"""experiments step of the workflow."""
