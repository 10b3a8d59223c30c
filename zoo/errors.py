"""User-facing errors: raised for bad input, printed by cli.py as one line without a traceback; warnings, printed
by cli.py as one line too."""


class ZooError(Exception):
    """A problem the user can fix; the message says what is wrong and how to fix it."""


def plain_warning(message, category, filename, lineno, line=None) -> str:
    """``warning: <message>``, without the file:line prefix and source line Python and Lightning print."""
    return f"warning: {message}\n"
