"""Running the pipeline: recovery, notifications, run log, retries, progress, Prefect settings."""
