"""The contract test kit: checks every plugin runs against itself.

Use it by subclassing :class:`PluginContract` in your plugin's tests::

    from unibind.testing import PluginContract

    class TestContract(PluginContract):
        plugin = "depth"                      # your entry-point name

        def sample_file(self, modality, tmp_path):
            return write_one_valid_file(tmp_path)   # yours: one valid file of ``modality``

Each check is a test method, so ``pytest`` reports them one by one. The
plain functions below can also be called on their own.
"""

from unibind.testing.checks import (
    BAD_FILE_KINDS,
    HEAVY_MODULES,
    bad_file_variants,
    check_batch_matches_singles,
    check_encoder_output,
    check_loader_rejects,
    check_settings_roundtrip,
    heavy_modules_after_registration,
)
from unibind.testing.contract import PluginContract

__all__ = [
    "BAD_FILE_KINDS",
    "HEAVY_MODULES",
    "PluginContract",
    "bad_file_variants",
    "check_batch_matches_singles",
    "check_encoder_output",
    "check_loader_rejects",
    "check_settings_roundtrip",
    "heavy_modules_after_registration",
]
