"""monitoring step of the workflow."""
