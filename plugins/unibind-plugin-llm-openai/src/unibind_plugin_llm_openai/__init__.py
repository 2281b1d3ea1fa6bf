"""UniBind plugin: Class descriptions from any OpenAI-compatible chat-completions server (hosted APIs, vLLM, Ollama, llama.cpp)."""
