"""serving step of the workflow."""
