"""Errors a user can cause. Their message says what to do; no traceback is shown for them.

``exit_code`` is what the CLI exits with: 1 a step failed, 2 bad input or usage, 3 already
running (0 is success).
"""

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_ALREADY_RUNNING = 0, 1, 2, 3


class UserError(ValueError):
    """A failure the user can fix (configuration, endpoint, quota); the message says how."""

    exit_code = EXIT_FAILED


class BadInput(UserError):
    """Input that cannot be used (unknown name, malformed file or value)."""

    exit_code = EXIT_BAD_INPUT


class AlreadyRunning(UserError):
    """Another process holds the lock of this work; this invocation did nothing."""

    exit_code = EXIT_ALREADY_RUNNING
