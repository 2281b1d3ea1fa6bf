"""Calibration: probabilities that mean what they say."""
