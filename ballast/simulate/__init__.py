"""The policy simulator: every rebalancing policy on history and simulated futures."""
