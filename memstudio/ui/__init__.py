"""The studio window: Qt widgets, one module per dock."""
