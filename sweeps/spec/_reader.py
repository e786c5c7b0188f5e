"""Reads one YAML mapping key by key, so every error can name its exact key path.

    node = Node(raw, "", Origin("my.yaml"))
    batch = node.integer("training.batch_size" ...)

Errors come out as ``my.yaml: training.batch_size: expected an integer >= 1, got "big"``,
with ``(set by --set ...)`` appended when a command-line override put the value there.

The YAML itself is read by :func:`read_yaml`: ``yaml.safe_load``'s constructors, but a key
given twice in one mapping is an error, and so is a document that aliases its way past a node
budget ("billion laughs"), so a hostile spec fails at once instead of exhausting memory.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml

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
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")  # as YAML
    return repr(value)


def is_non_finite(value: Any) -> bool:
    """``.nan``, ``.inf`` or ``-.inf``: never a meaningful setting or hyperparameter."""
    return isinstance(value, float) and not math.isfinite(value)


def _bound(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e6 else str(value)


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
        maximum: int | None = None, nullable: bool = False,
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
        if maximum is not None and value > maximum:
            bound = f" >= {minimum} and" if minimum is not None else ""
            self.fail(key, f"expected an integer{bound} <= {maximum}, got {describe(value)}")
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
        if ok and is_non_finite(value):
            self.fail(key, f"expected a finite number, got {describe(value)}")
        if ok and minimum is not None:
            ok = value > minimum if exclusive_minimum else value >= minimum
        if ok and maximum is not None:
            ok = value <= maximum
        if not ok:
            bounds = []
            if minimum is not None:
                bounds.append(f"{'>' if exclusive_minimum else '>='} {_bound(minimum)}")
            if maximum is not None:
                bounds.append(f"<= {_bound(maximum)}")
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


class _Refused(Exception):
    def __init__(self, key_path: str, message: str) -> None:
        super().__init__(message)
        self.key_path = key_path
        self.message = message


_MERGE_TAG = "tag:yaml.org,2002:merge"


class SpecYamlLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader (only SafeLoader's constructors) with three refusals.

    - A key given twice in one mapping (``construct_mapping``): PyYAML would keep the last
      silently. Keys that ``<<: *merge`` brings in may still be overridden, as YAML intends.
    - More than ``max_aliases`` uses of ``*alias``, or more than ``max_nodes`` nodes once every
      alias is counted at its full size (counted while composing, before anything is built),
      so "billion laughs" stops after a few lines of input, not after the memory runs out.
    - An alias inside the node it names: a recursive structure no spec needs.

    Composing also notes each mapping's key path, so the errors can name it.
    """

    def __init__(self, text: str, *, max_aliases: int, max_nodes: int) -> None:
        super().__init__(text)
        self.max_aliases = max_aliases
        self.max_nodes = max_nodes
        self._aliases = 0
        self._nodes = 0
        self._sizes: dict[yaml.Node, int] = {}  # node -> nodes in it, aliases expanded
        self._paths: dict[yaml.Node, str] = {}  # mapping node -> its key path
        self._path: list[str] = []
        self._checked: set[yaml.Node] = set()

    def key_path(self, extra: str | None = None) -> str:
        parts = [*self._path, *([extra] if extra is not None else [])]
        return "".join(p if p.startswith("[") or i == 0 else f".{p}"
                       for i, p in enumerate(parts))

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        segment = None
        if isinstance(parent, yaml.SequenceNode):
            segment = f"[{index}]"
        elif isinstance(index, yaml.Node):  # a mapping's value; ``index`` is its key
            segment = str(index.value) if isinstance(index, yaml.ScalarNode) else "?"
        if segment is not None:
            self._path.append(segment)
        try:
            if self.check_event(yaml.AliasEvent):
                line = self.peek_event().start_mark.line + 1
                node = super().compose_node(parent, index)
                self._aliases += 1
                if self._aliases > self.max_aliases:
                    raise _Refused(self.key_path(), f"expected at most {self.max_aliases} "
                                   f"YAML aliases (*name) in a spec, got more (line {line})")
                if node not in self._sizes:
                    raise _Refused(self.key_path(), "expected an alias to a finished node, "
                                   f"got one inside the node it names (line {line})")
                self._count(self._sizes[node], line)
                return node
            before = self._nodes
            node = super().compose_node(parent, index)
            self._count(1, node.start_mark.line + 1)
            self._sizes[node] = self._nodes - before
            if isinstance(node, yaml.MappingNode):
                self._paths[node] = self.key_path()
            return node
        finally:
            if segment is not None:
                self._path.pop()

    def _count(self, nodes: int, line: int) -> None:
        self._nodes += nodes
        if self._nodes > self.max_nodes:
            raise _Refused(self.key_path(), f"expected at most {self.max_nodes} YAML nodes "
                           f"with aliases expanded, got more (line {line}; an alias bomb?)")

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            self._check_unique_keys(node)
        return super().construct_mapping(node, deep=deep)

    def _check_unique_keys(self, node: yaml.MappingNode) -> None:
        # Before SafeConstructor's flatten_mapping, which rewrites ``<<`` merges (and those of
        # the mappings merged in) into plain, possibly repeated, keys.
        if node in self._checked:
            return
        self._checked.add(node)
        marks: dict[Any, yaml.Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [
                    value_node]
                for source in sources:
                    if isinstance(source, yaml.MappingNode):
                        self._check_unique_keys(source)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # SafeConstructor refuses the unhashable ones itself
            key = self.construct_object(key_node)
            if key in marks:
                first, again = marks[key], key_node.start_mark
                where = (f"lines {first.line + 1} and {again.line + 1}"
                         if first.line != again.line else
                         f"line {again.line + 1}, columns {first.column + 1} and "
                         f"{again.column + 1}")
                path = self._paths.get(node, "")
                raise _Refused(f"{path}.{key}" if path else str(key),
                               f"expected each key once in a mapping, got it twice ({where})")
            marks[key] = key_node.start_mark


def read_yaml(text: str, origin: Origin, *, at: str = "", max_aliases: int,
              max_nodes: int) -> Any:
    """``yaml.safe_load(text)`` through :class:`SpecYamlLoader`.

    Its refusals fail through ``origin`` at their key path (under ``at``, the ``--set`` key a
    value is for); a YAML syntax error is raised as PyYAML's ``yaml.YAMLError``.
    """
    loader = SpecYamlLoader(text, max_aliases=max_aliases, max_nodes=max_nodes)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        path = ".".join(p for p in (at, exc.key_path) if p).replace(".[", "[")
        origin.fail(path or "(top level)", exc.message)
    finally:
        loader.dispose()
