"""One error type for everything a user can get wrong with the store."""


class VfsError(Exception):
    """A one-line message meant for the user."""
