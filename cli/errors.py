"""The one exception the CLI turns into a one-line error and a non-zero exit."""


class UserError(Exception):
    """A mistake the user can fix (bad recipe, missing data, no checkpoint yet...)."""
