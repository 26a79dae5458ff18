"""The one error type users see: a message that names the problem and the fix."""


class VicregError(Exception):
    """A problem the user can fix; the CLI prints its message without a traceback."""


class RenderError(VicregError, RuntimeError):
    """Building the document failed; the message names the tool and the step."""
