"""Trade proposals: inputs -> engine (heuristic | optimiser) -> lots -> wash sales -> post-trade."""
