"""The canvas in the middle of the studio and the live loop that keeps it rendered and scored."""
