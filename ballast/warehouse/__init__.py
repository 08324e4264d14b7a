"""The DuckDB warehouse: connection and queries, the snapshot a review reads, run records."""
