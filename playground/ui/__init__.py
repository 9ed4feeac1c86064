"""The window: one module per panel, reusable widgets in ``widgets``."""
