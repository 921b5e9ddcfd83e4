"""A str-valued enum that is its value wherever text is expected: it compares, hashes, formats and serializes to
JSON as the value, on every Python the plugin supports (Enum hashes by name, and format() of a mixed-in member
changed in Python 3.12). No torch, no pytest."""

from __future__ import annotations

from enum import Enum


class TextEnum(str, Enum):
    __hash__ = str.__hash__  # so that a member and its value are the same dict key

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
