"""One base for every failure a user can act on.

The CLI reports a ``TickstackError`` (and an AWS call that failed, or a wait that ran out) as
one line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class TickstackError(Exception):
    """A failure the user can act on, said in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class TargetError(TickstackError):
    """The chosen target cannot do what was asked, or is not in a state to."""


class EmulatorError(TargetError):
    """An emulator would not start, stop or answer."""


class NotDeployed(TargetError):
    """Nothing is deployed on the target yet."""
