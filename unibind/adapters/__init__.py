"""Adapters: small maps from an encoder's features into the language-anchored space."""
