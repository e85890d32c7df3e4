"""Error paths mapped to source lines (YAML and JSON)."""

from __future__ import annotations

from campaigns.catalog.doclines import compose, line_of, locate, position_of, split_path


def test_split_path():
    assert split_path("rules[0].conditions.all[1].operator") == ["rules", 0, "conditions", "all", 1, "operator"]
    assert split_path("budget['max points']") == ["budget", "max points"]
    assert split_path("$") == []


YAML = """name: X
rules:
  - name: r
    conditions:
      all:
        - {name: amount, operator: greater_than, value: 1}
        - name: amount
          operator: greater
          value: 1
    actions:
      - name: award_points
        params:
          points: "5"
"""


def test_yaml_lines():
    root = compose(YAML)
    assert line_of(root, "rules[0].conditions.all[0].operator") == 6
    assert line_of(root, "rules[0].conditions.all[1].operator") == 8
    assert line_of(root, "rules[0].actions[0].params.points") == 13
    assert line_of(root, "rules[0].actions[0].params") == 12  # a mapping: the line of its key
    assert line_of(root, "rules[0].nope") == 3  # missing key: the deepest node that exists
    assert line_of(root, "$", "invalid YAML: x at line 7, column 3") == 7
    assert position_of(root, "rules[0].conditions.all[1].operator") == (8, 21)  # the value after "operator: "
    assert position_of(root, "$", "invalid YAML: x at line 7, column 3") == (7, 3)


def test_json_lines_and_broken_documents():
    text = '{\n  "name": "X",\n  "rules": [\n    {"name": "r", "conditions": {"all": [\n      {"name": "amount", "operator": "greater", "value": 1}\n    ]}}\n  ]\n}\n'
    assert locate(text, [("rules[0].conditions.all[0].operator", "bad")]) == [
        {"path": "rules[0].conditions.all[0].operator", "reason": "bad", "line": 5, "column": 38}
    ]
    assert line_of(compose("rules: [\n"), "rules[0]") == 1
