"""The one error type the workspace raises; its message is shown to the model as is."""


class WorkspaceError(Exception):
    """A request the repository cannot satisfy (bad path, bad regex, unknown folder, ...).

    Messages are written for the reader of a REPL traceback: they say what was wrong and,
    where possible, what to try instead.
    """
