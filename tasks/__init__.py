"""Prefect tasks: one thin task per stage over the plain functions in ``ballast``."""
