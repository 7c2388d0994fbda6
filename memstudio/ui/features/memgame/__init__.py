"""Memory game: building games from strips or folders, playing them here, web export and scoring."""
