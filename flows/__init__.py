"""Prefect flows: what happens in what order, and nothing else."""
