"""The one exception type whose message is shown to users as a single line."""


class NorepError(Exception):
    """A problem the user can fix; its message names the problem and the fix."""
