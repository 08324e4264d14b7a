"""Fidelity CSV exports: statement positions and account history (see ``profiles``)."""

from __future__ import annotations

from ballast.ingest.adapters.csv_profile import ProfileAdapter
from ballast.ingest.adapters.profiles import FIDELITY_POSITIONS, FIDELITY_TRANSACTIONS

ADAPTER = ProfileAdapter("fidelity", (FIDELITY_POSITIONS, FIDELITY_TRANSACTIONS))
