"""xonsh glue for Delta: event handlers, aliases and suggestion hooks (nothing heavy at import)."""
