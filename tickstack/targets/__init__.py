"""Where the pipeline runs: one `Target` type, one class per target, and the choice between them."""

from tickstack.targets.base import EmulatorTarget, Target
from tickstack.targets.choice import AwsOptions, Choice, choose, forget, make_target, remember

__all__ = ["AwsOptions", "Choice", "EmulatorTarget", "Target", "choose", "forget", "make_target", "remember"]
