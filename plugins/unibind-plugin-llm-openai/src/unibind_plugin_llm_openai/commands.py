"""``unibind llm-openai models``: check a server's URL and key before a long build."""

from __future__ import annotations

import click


@click.group("llm-openai")
def llm_openai() -> None:
    """OpenAI-compatible chat servers (OpenAI, vLLM, Ollama, llama.cpp)."""


@llm_openai.command()
@click.option("--base-url", default="https://api.openai.com/v1", show_default=True,
              help="Server root up to /v1.")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
              help="Environment variable holding the key.")
@click.option("--require-key/--no-require-key", default=None,
              help="Default: a key is required unless the server is local or on a private network.")
@click.option("--allow-http-key", is_flag=True,
              help="Send the key over plain http to a server on this machine (loopback only).")
def models(base_url: str, api_key_env: str, require_key: bool | None, allow_http_key: bool) -> None:
    """List the models the server offers (GET /models): proves the URL and key work."""
    from pydantic import ValidationError

    from unibind.errors import UniBindError, validation_message
    from unibind_plugin_llm_openai.client import ChatClient, api_key
    from unibind_plugin_llm_openai.settings import OpenAISettings

    try:
        settings = OpenAISettings(base_url=base_url, api_key_env=api_key_env, require_key=require_key,
                                  allow_http_key=allow_http_key, max_retries=2, timeout=30)
        client = ChatClient(settings, api_key(settings))
    except ValidationError as exc:
        raise click.ClickException(validation_message(exc)) from exc
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        names = client.models()
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        client.close()
    for name in names:
        click.echo(name)
