"""Errors a user can cause. The CLI prints them and exits with code 2."""

from __future__ import annotations


class ShopfloorError(Exception):
    """Base class of every error caused by user input (files, options)."""


class ScenarioError(ShopfloorError):
    """A scenario file or override is invalid.

    ``problems`` holds one ``(field, message)`` pair per problem so that all of them can be shown at once.
    """

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__(
            "\n".join(f"{source}: {field}: {msg}" if field else f"{source}: {msg}" for field, msg in problems)
        )
