"""Stage 2: feature cache, adapters trained contrastively against text, distributed training.

Public API (import from the submodules; this package imports nothing heavy):

- :mod:`unibind.training.features`: re-exports the one feature cache, :mod:`unibind.features`
- :mod:`unibind.training.objective`: ``contrastive_loss``, ``Temperature``
- :mod:`unibind.training.trainer`: ``TrainSettings``, ``ModalityData``, ``Positives``, ``fit_adapters``
- :mod:`unibind.training.pipeline`: ``TrainConfig``, ``train_space`` (files to a space directory)
- :mod:`unibind.training.distributed`: ``init_from_env`` (torchrun), ``DistContext``
"""
