"""The one exception type the CLI turns into a single clear error line."""


class SrasError(Exception):
    """A user-facing error: bad input, a conflicting output folder, a missing file.

    The message names the file and the problem; the CLI prints it as one line and exits non-zero.
    """
