"""UniBind plugin: WordNet 3.0 class descriptions for the UniBind knowledge base (gloss, synonyms, hypernyms, hyponyms, parts)."""
