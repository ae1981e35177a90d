"""Finishing: what happens to every matte after the engine and before the writer."""
