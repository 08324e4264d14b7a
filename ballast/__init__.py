"""ballast: keeps institutional portfolios inside their investment policy."""

__version__ = "0.1.0"
