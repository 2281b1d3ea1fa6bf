"""Fallback validation: re-check predictions whose calibrated confidence is low.

Validators are registered through the ``unibind_validators`` hook; :class:`Fallback`
runs them below a threshold and records what they said and the final decision.
"""
