"""Zero-shot tables, retrieval, balance, projections and reports (issues 5 and 6)."""
