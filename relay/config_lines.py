"""YAML documents with the line of every key and list item, and errors that name them.

The alerts file is read with PyYAML's composer (not ``safe_load``), so each value keeps the
line it was written on: a problem found while validating is reported as ``file:line: field:
message``. Anchors, aliases and non-standard tags are refused, nesting is bounded, and so is
the file's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

MAX_FILE_BYTES = 1024 * 1024
MAX_PROBLEMS_SHOWN = 50
MAX_DEPTH = 16

DocPath = tuple[str | int, ...]
"""Where a value is in the document: keys and list indexes from the top."""


class AlertConfigError(ValueError):
    """A configuration file that cannot be used; one line per problem."""


@dataclass
class Located:
    """A document as plain values, with the line (1-based) of each key and list item."""

    source: str
    lines: dict[DocPath, int] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)

    def line_of(self, path: DocPath) -> int:
        for length in range(len(path), 0, -1):
            line = self.lines.get(path[:length])
            if line is not None:
                return line
        return 1

    def problem(self, path: DocPath, message: str) -> None:
        where = path_text(path)
        prefix = f"{where}: " if where else ""
        self.problems.append((self.line_of(path), f"{prefix}{message}"))

    def error(self) -> AlertConfigError:
        ordered = sorted(self.problems, key=lambda problem: problem[0])
        shown = [f"{self.source}:{line}: {text}" for line, text in ordered[:MAX_PROBLEMS_SHOWN]]
        if len(ordered) > MAX_PROBLEMS_SHOWN:
            shown.append(f"{self.source}: ... and {len(ordered) - MAX_PROBLEMS_SHOWN} more")
        return AlertConfigError("\n".join(shown))


def path_text(path: DocPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class _Walker:
    """Turns composed YAML nodes into plain values, recording lines, refusing duplicate keys,
    non-text keys, aliases and tags other than the standard ones."""

    def __init__(self, loader: _Loader, located: Located) -> None:
        self.loader = loader
        self.located = located
        self.seen: set[int] = set()

    def value(self, node: yaml.Node, path: DocPath) -> object:
        if id(node) in self.seen:
            line = self.located.line_of(path)
            where = path_text(path)
            raise AlertConfigError(
                f"{self.located.source}:{line}: {where}: anchors and aliases are not supported"
            )
        self.seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                raise self._fail(node, path, f"unsupported tag {node.tag}")
            items = []
            for index, item in enumerate(node.value):
                self.located.lines[(*path, index)] = item.start_mark.line + 1
                items.append(self.value(item, (*path, index)))
            return items
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: DocPath) -> dict[str, object]:
        if node.tag != _MAP_TAG:
            raise self._fail(node, path, f"unsupported tag {node.tag}")
        mapping: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, path)
            if not isinstance(key, str):
                raise self._fail(key_node, path, f"keys must be text (got {key!r:.40})")
            if key in mapping:
                first = self.located.lines[(*path, key)]
                raise self._fail(key_node, (*path, key), f"duplicate key (first on line {first})")
            self.located.lines[(*path, key)] = key_node.start_mark.line + 1
            mapping[key] = self.value(value_node, (*path, key))
        return mapping

    def _scalar(self, node: yaml.Node, path: DocPath) -> object:
        if not isinstance(node, yaml.ScalarNode):
            raise self._fail(node, path, "keys must be text")
        try:
            return self.loader.construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:
            raise self._fail(node, path, f"not a valid value: {exc}") from None

    def _fail(self, node: yaml.Node, path: DocPath, message: str) -> AlertConfigError:
        where = path_text(path)
        prefix = f"{where}: " if where else ""
        line = node.start_mark.line + 1
        return AlertConfigError(f"{self.located.source}:{line}: {prefix}{message}")


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing nesting deeper than any setting needs (PyYAML composes
    recursively, and slowly when nesting is deep)."""

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self.source = source
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = 1 if parent is None else parent.start_mark.line + 1
                raise AlertConfigError(
                    f"{self.source}:{line}: nested deeper than {MAX_DEPTH} levels"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def document_of(text: str, source: str) -> tuple[object, Located]:
    located = Located(source)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise AlertConfigError(f"{source}: larger than {MAX_FILE_BYTES} bytes")
    loader = _Loader(text, source)
    try:
        root = loader.get_single_node()
        value = None if root is None else _Walker(loader, located).value(root, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise AlertConfigError(f"{source}:{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise AlertConfigError(f"{source}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return value, located
