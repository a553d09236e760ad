"""The handlers' X-Ray tracer: Powertools' Tracer where traces are recorded, nothing where not.

Powertools' Tracer loads the X-Ray SDK when it is made, even when told to trace nothing, and
that SDK is a third of a function worker's memory (about 20 MB of 60). Terraform turns tracing
off on every emulator (no X-Ray daemon listens there) with POWERTOOLS_TRACE_DISABLED; there the
handlers get `Untraced`, whose decorators hand the function back unchanged, as those of a
disabled Tracer do, and the SDK is never imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.shared.constants import TRACER_DISABLED_ENV
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice


class Untraced:
    """What the handlers use of Powertools' Tracer, doing nothing."""

    disabled = True

    def capture_lambda_handler(self, handler: Callable[..., Any] | None = None, **_: Any) -> Any:
        return handler if handler is not None else (lambda function: function)

    def capture_method(self, method: Callable[..., Any] | None = None, **_: Any) -> Any:
        return method if method is not None else (lambda function: function)


def make_tracer() -> Any:
    """A Powertools Tracer, or `Untraced` when POWERTOOLS_TRACE_DISABLED says so (read as Powertools reads it)."""
    if resolve_truthy_env_var_choice(env=os.getenv(TRACER_DISABLED_ENV, "false")):
        return Untraced()
    from aws_lambda_powertools import Tracer  # imports the X-Ray SDK

    return Tracer()
