"""The Jobs dock: a card per job, following that job's own handle."""
