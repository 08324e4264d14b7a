"""The run's plumbing, used by every layer: run ids, progress, the run log, which failures to
retry, end-of-run notifications and Prefect's process settings."""
