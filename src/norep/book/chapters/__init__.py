"""Chapter helpers: what each chapter of the book computes and shows, one module per chapter."""
