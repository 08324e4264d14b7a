"""Charles Schwab CSV exports: positions/balances and transaction history (see ``profiles``)."""

from __future__ import annotations

from ballast.ingest.adapters.csv_profile import ProfileAdapter
from ballast.ingest.adapters.profiles import SCHWAB_POSITIONS, SCHWAB_TRANSACTIONS

ADAPTER = ProfileAdapter("schwab", (SCHWAB_POSITIONS, SCHWAB_TRANSACTIONS))
