"""Widgets more than one panel uses."""
