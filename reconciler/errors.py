"""The exception hierarchy of the reconciler.

Every error a user can cause or meet derives from `JinbiError`. Its message
names what failed and on which value, and `hint` tells what to do next. Only
`reconciler.cli` turns these into output and exit codes.
"""

from __future__ import annotations


class JinbiError(Exception):
    """Root of every error the reconciler reports to a user."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigurationError(JinbiError):
    """The environment, the toolchain or a command-line option is unusable."""


class DevnetError(JinbiError):
    """The local anvil chain could not be started, reached or stopped."""


class ChainError(JinbiError):
    """A read from or a transaction to the chain failed permanently."""


class ValidationError(JinbiError):
    """The desired state under state/<env>/ is invalid."""


class DesiredStateError(ValidationError):
    """Invalid desired state, with every finding in `diagnostics`, sorted by file and line."""

    def __init__(self, message: str, *, diagnostics: tuple[object, ...], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.diagnostics = diagnostics


class PlanError(JinbiError):
    """The plan cannot be made, with every problem found in `problems`, in the order found."""

    def __init__(self, message: str, *, problems: tuple[object, ...] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems


class SignerError(ConfigurationError):
    """The signing key is missing, invalid or cannot be decrypted. The message never contains the key."""


class ExecutionError(JinbiError):
    """Sending or confirming a plan's transactions failed."""


class JournalError(ExecutionError):
    """The write-ahead journal of an apply is unreadable or belongs to another plan, chain or signer."""


class LockError(ExecutionError):
    """Another apply holds the environment's lock, or this apply lost it."""


class GitError(JinbiError):
    """The git repository around the state folder is missing, or a git command on it failed."""


class DriftError(JinbiError):
    """Drift cannot be computed or its adoption cannot be written."""


class AuditError(JinbiError):
    """The audit trail in git notes is unreadable, or contains no record about the requested address."""


class ReportError(JinbiError):
    """A report cannot be made: an unknown coupon cycle or period, or a date the chain has not reached."""
