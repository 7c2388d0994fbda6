"""Development tools (import-linter contracts); never imported by the studio itself."""
