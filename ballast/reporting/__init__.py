"""What a review publishes: results.json, trades.csv, HTML and PDF reports, charts."""
