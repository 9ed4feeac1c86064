"""Runs core work off the GUI thread and holds the session the panels share."""
