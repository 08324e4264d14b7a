"""Policies and portfolio maths: IPS models, valuation, drift, bands, checks, reconciliation."""
