"""evaluation step of the workflow."""
