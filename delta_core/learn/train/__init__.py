"""Training runs: configuration, plans, data loading, the loop, launchers, the pipeline."""
