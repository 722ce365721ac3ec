"""Exceptions for faults people can fix: configuration, services, usage.

Data problems are not exceptions (see etl.problems).  These are; the command
line turns each into one clear sentence and a non-zero exit status.
"""


class CscError(Exception):
    """An expected failure with a message meant for the person at the keyboard."""


class ConfigError(CscError):
    """A setting is missing or wrong."""


class MailUnavailable(CscError):
    """The mail server could not be reached or refused the message: worth a retry."""


class FilingFailed(CscError):
    """A landed file could not be archived or quarantined (a full or read-only disk).

    Raised before anything is loaded: the file is still where it was and no
    partial copy is left behind.
    """
