"""Where in the source text an error path points: ``rules[0].conditions.all[1].operator`` -> line 9.

The document is composed (not constructed) with PyYAML, which keeps a start
mark on every node; JSON is YAML for this purpose. The path is walked node by
node; when a key is missing (``rules[0].actions: required``) the deepest node
found gives the line. Syntax errors already name their line in the reason.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

TOKEN = re.compile(r"""\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]""")
SYNTAX_LINE = re.compile(r"at line (\d+)(?:, column (\d+))?")
MAX_SOURCE = 256 * 1024


def split_path(path: str) -> list[str | int]:
    """``rules[0].conditions.all[1].operator`` -> ['rules', 0, 'conditions', 'all', 1, 'operator']."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = TOKEN.match(path, pos)
        if m is None:
            break
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(int(m.group(2)))
        else:
            quoted = m.group(3)
            parts.append(quoted[1:-1].encode().decode("unicode_escape") if "\\" in quoted else quoted[1:-1])
        pos = m.end()
    return parts


class _Composer(yaml.SafeLoader):
    """Aliases are refused when loading; composing them here would only mislead the line numbers."""


def compose(source: str) -> yaml.Node | None:
    if len(source) > MAX_SOURCE:
        return None
    try:
        return yaml.compose(source, Loader=_Composer)
    except (yaml.YAMLError, RecursionError):
        return None


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and (key.value == part or key.value == str(part)):
                return value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def _key_node(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, _value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key
    return None


def line_of(root: yaml.Node | None, path: str, reason: str = "") -> int:
    """1-based line of the node the path names (or of its deepest existing ancestor)."""
    return position_of(root, path, reason)[0]


def position_of(root: yaml.Node | None, path: str, reason: str = "") -> tuple[int, int]:
    """1-based (line, column) of the node the path names (or of its deepest existing ancestor)."""
    if path in ("$", "") or root is None:
        m = SYNTAX_LINE.search(reason)
        return (int(m.group(1)), int(m.group(2) or 1)) if m else (1, 1)
    node = root
    parts = split_path(path)
    for i, part in enumerate(parts):
        child = _child(node, part)
        if child is None:
            break
        if i == len(parts) - 1:
            # an unknown key or a bad value: point at the key itself when it has one
            key = _key_node(node, part)
            node = key if key is not None and not isinstance(child, yaml.ScalarNode) else child
            break
        node = child
    return node.start_mark.line + 1, node.start_mark.column + 1


def locate(source: str, errors: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """``[(path, reason)]`` -> ``[{"path", "reason", "line", "column"}]`` for the editor, the API and the CLI."""
    root = compose(source) if errors and any(p not in ("$", "") for p, _ in errors) else None
    out = []
    for p, r in errors:
        line, column = position_of(root, p, r)
        out.append({"path": p, "reason": r, "line": line, "column": column})
    return out
