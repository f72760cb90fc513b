"""The book: build and checks, store views, plots and chapter helpers."""
