"""The DuckDB warehouse: connection and queries (sql/), and the snapshot a review reads."""
