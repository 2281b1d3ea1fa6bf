"""The knowledge base of class descriptions, its sources and class centres.

- :mod:`~unibind.knowledge.records`: the pydantic records (ClassRef, DescriptionDraft, Rejected,
  Description, Provenance, JobState) and text normalisation for deduplication.
- :mod:`~unibind.knowledge.sources`: the description-source interface plugins implement
  (``describe`` / ``caption``), its contract check, and parsing of ``--source``/``--classes``.
- :mod:`~unibind.knowledge.templates`: the built-in prompt-template source (CLIP's templates).
- :mod:`~unibind.knowledge.store`: the SQLite store (WAL, atomic transactions, UNIQUE dedup).
- :mod:`~unibind.knowledge.builder`: resumable builds (jobs, counts of kept/rejected and why).
- :mod:`~unibind.knowledge.textcache`: text embeddings cached per (encoder identity, text).
- :mod:`~unibind.knowledge.centres`: Embedding Center Localization, baselines, segmented scoring.
- :mod:`~unibind.knowledge.testing`: deterministic stand-ins (a scripted source, a hashing encoder).

Importing this package imports nothing heavy; torch loads with ``textcache`` and ``centres``.
"""
