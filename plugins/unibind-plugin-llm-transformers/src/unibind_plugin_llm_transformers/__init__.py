"""UniBind plugin: Class descriptions from any local causal language model through transformers; embedded default Gemma-3-270M GGUF; ImageNet's packaged LLM descriptions."""
