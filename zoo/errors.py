"""User-facing errors: raised for bad input, printed by cli.py as one line without a traceback."""


class ZooError(Exception):
    """A problem the user can fix; the message says what is wrong and how to fix it."""
