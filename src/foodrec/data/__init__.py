"""Data step: canonical schema, readers, validation + quarantine, the store, the synthetic city."""
