"""Custodian files from ``inbox/`` into the warehouse: read, validate, load or quarantine; and the
wait for late custodian files before a scheduled review."""
