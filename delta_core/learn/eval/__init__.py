"""``delta eval``'s protocol, strategies, the model it trains when none is given, the report."""
