"""The knowledge base of class descriptions, its sources and class centres."""
