"""Session files in the studio: File ▸ Save session… and Open session… (the same files ``memstudio session`` reads)."""
