"""Analyses over arrays: pair metrics, the bootstrap, calibration, ensembles, specialization,
accuracy adjustment and verdicts. Arrays and tables in, arrays and tables out."""
