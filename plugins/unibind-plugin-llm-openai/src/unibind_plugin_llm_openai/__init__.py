"""UniBind plugin: class descriptions from any OpenAI-compatible chat-completions server.

Hosted APIs, vLLM, Ollama, llama.cpp's server; see ``source`` for the stream and ``client`` for retries.
"""
