"""directions."""
