"""Custodian files from ``inbox/`` into the warehouse: read, validate, load or quarantine."""
