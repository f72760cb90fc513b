"""Figures of the book: one module per figure family, each function returning a matplotlib Figure."""
