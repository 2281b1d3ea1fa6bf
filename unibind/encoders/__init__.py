"""Encoders: the frozen networks that turn samples into features."""
