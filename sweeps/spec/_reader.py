"""Reads one YAML mapping key by key, so every error can name its exact key path.

    node = Node(raw, "", Origin("my.yaml"))
    batch = node.integer("training.batch_size" ...)

Errors come out as ``my.yaml: training.batch_size: expected an integer >= 1, got "big"``,
with ``(set by --set ...)`` appended when a command-line override put the value there.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sweeps.errors import SpecError

MISSING: Any = object()
_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


@dataclass
class Origin:
    """Where the values come from: the file, and which key paths ``--set`` supplied."""

    source: str
    overrides: dict[str, str] = field(default_factory=dict)

    def fail(self, key_path: str, message: str) -> NoReturn:
        for path, text in self.overrides.items():
            if key_path == path or key_path.startswith(path + "."):
                message += f" (set by --set {text})"
                break
        raise SpecError(self.source, key_path, message)


def describe(value: Any) -> str:
    """A found value, as an error message shows it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def suggestion(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


class Node:
    """A YAML mapping at a key path. Call :meth:`finish` once every key is read."""

    def __init__(self, data: Any, path: str, origin: Origin) -> None:
        if not isinstance(data, Mapping):
            origin.fail(path or "(top level)", f"expected a mapping, got {describe(data)}")
        self.data = data
        self.path = path
        self.origin = origin
        self._read: set[str] = set()

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> NoReturn:
        self.origin.fail(self.key_path(key), message)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str, default: Any = MISSING) -> Any:
        self._read.add(key)
        if key not in self.data:
            if default is MISSING:
                self.fail(key, "is required but missing")
            return default
        return self.data[key]

    def child(self, key: str, *, required: bool = False) -> Node:
        """The mapping under ``key``; an optional section may be absent or empty."""
        value = self.raw(key) if required else self.raw(key, None)
        if value is None and not required:
            value = {}
        return Node(value, self.key_path(key), self.origin)

    def integer(
        self, key: str, default: Any = MISSING, *, minimum: int | None = None,
        nullable: bool = False,
    ) -> Any:
        value = self.raw(key, default)
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or (
            minimum is not None and value < minimum
        ):
            bound = f" >= {minimum}" if minimum is not None else ""
            null = " or null" if nullable else ""
            self.fail(key, f"expected an integer{bound}{null}, got {describe(value)}")
        return value

    def number(
        self, key: str, default: Any = MISSING, *, minimum: float | None = None,
        maximum: float | None = None, exclusive_minimum: bool = False,
    ) -> float:
        value = self.raw(key, default)
        if isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
            # PyYAML follows YAML 1.1, where `1e-3` (no dot) is a string, not a float; a
            # learning rate written that way is what the user meant.
            value = float(value)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and minimum is not None:
            ok = value > minimum if exclusive_minimum else value >= minimum
        if ok and maximum is not None:
            ok = value <= maximum
        if not ok:
            bounds = []
            if minimum is not None:
                bounds.append(f"{'>' if exclusive_minimum else '>='} {minimum}")
            if maximum is not None:
                bounds.append(f"<= {maximum}")
            self.fail(key, f"expected a number {' and '.join(bounds)}".rstrip()
                      + f", got {describe(value)}")
        return float(value)

    def string(
        self, key: str, default: Any = MISSING, *, choices: Iterable[str] | None = None,
        nullable: bool = False,
    ) -> Any:
        value = self.raw(key, default)
        if value is None and nullable:
            return None
        options = list(choices) if choices is not None else None
        if not isinstance(value, str) or not value:
            self.fail(key, f"expected a non-empty string, got {describe(value)}")
        if options is not None and value not in options:
            listed = ", ".join(options)
            self.fail(key, f"expected one of {listed}, got {describe(value)}"
                      + suggestion(value, options))
        return value

    def boolean(self, key: str, default: Any = MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {describe(value)}")
        return value

    def finish(self) -> None:
        """Unknown keys are errors, with the closest known key as a suggestion."""
        for key in self.data:
            if key not in self._read:
                self.origin.fail(
                    self.key_path(str(key)),
                    "unknown key" + suggestion(str(key), sorted(self._read))
                    + f"; known keys here: {', '.join(sorted(self._read))}",
                )
