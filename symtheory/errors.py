"""Errors raised on bad user input; the CLI turns them into one line on stderr and exit code 2."""


class BadInput(ValueError):
    """Input that the toolkit refuses: unknown names, out-of-domain parameters, unparsable expressions."""
