"""A user's mistake ends in one ``Error:`` line, never a traceback, and never shows a secret.

:class:`UserErrorGroup` is the top-level command group: the library's deliberate
errors (:class:`~unibind.errors.UniBindError` and its subclasses, pydantic's
``ValidationError`` for settings, an ``OSError`` naming a file) become a
:class:`click.ClickException`; every message click prints is flattened to one
line and redacted (:mod:`unibind.secrets`). Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

from typing import Any

import click


def one_line(text: str) -> str:
    """``text`` on one line, redacted: what an ``Error:`` line may show."""
    from unibind.secrets import redact

    return redact(" ".join(str(text).split()))


def user_message(exc: BaseException) -> str | None:
    """The one-line message for an error that is the user's to fix; None for a bug."""
    from pydantic import ValidationError

    from unibind.errors import UniBindError, validation_message

    if isinstance(exc, ValidationError):
        return one_line(f"invalid {exc.title}: {validation_message(exc)}")
    if isinstance(exc, UniBindError):
        return one_line(str(exc))
    if isinstance(exc, OSError) and exc.filename is not None:
        return one_line(f"{exc.filename}: {exc.strerror or exc}")
    return None


def run_or_exit(func: Any, *args: Any) -> Any:
    """Call ``func`` outside a command (e.g. loading plugins); a user error exits 1 with one line."""
    try:
        return func(*args)
    except Exception as exc:
        message = user_message(exc)
        if message is None:
            raise
        click.echo(f"Error: {message}", err=True)
        raise SystemExit(1) from exc


class UserErrorGroup(click.Group):
    """A click group whose commands (and sub-groups) report user errors as one ``Error:`` line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = one_line(exc.message)
            raise
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            message = user_message(exc)
            if message is None:
                raise
            raise click.ClickException(message) from exc
