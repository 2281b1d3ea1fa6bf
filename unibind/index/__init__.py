"""A search index over a space's embeddings, on FAISS (``unibind index`` and ``unibind search``).

``settings`` holds the parameters (pydantic), ``engine`` everything FAISS,
``store`` the index file (one file, written atomically), ``identity`` which
space built it, ``gallery`` what to index, ``query`` how to search it and
``bench`` the flat/IVF/HNSW comparison.
"""

from unibind.index.settings import IndexSettings
from unibind.index.store import SearchIndex

__all__ = ["IndexSettings", "SearchIndex"]
