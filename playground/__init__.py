"""LLM Playground: build a small language model by hand and watch it from the inside."""

__version__ = "0.1.0"
