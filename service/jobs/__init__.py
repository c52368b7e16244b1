"""Background jobs: the runner interface, the in-process runner and the job bodies."""

from .runner import JobRunner

__all__ = ["JobRunner"]
