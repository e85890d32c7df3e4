"""Document parsing and validation: exact paths and reasons, all errors at once."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from rules import DocumentInvalid, FieldError, Known, parse_document
from rules.document import MAX_SOURCE_BYTES

GOOD_YAML = """
name: Tet top-up bonus
type: earning
providers: [telecom]
starts_at: 2027-01-20T00:00:00+07:00
ends_at: 2027-02-20T00:00:00+07:00
priority: 100
stacking: stackable
budget: {max_points: 50000000, max_points_per_customer_per_day: 5000}
rules:
  - name: top-up of 100k or more
    conditions:
      all:
        - {name: category, operator: equal_to, value: topup}
        - {name: amount, operator: greater_than_or_equal_to, value: 100000}
        - {name: local_date, operator: between, value: [2027-01-20, 2027-02-01]}
    actions:
      - {name: award_points_per_amount, params: {points: 1, per: 10000}}
"""


def good() -> dict[str, Any]:
    return {
        "name": "Weekend bonus",
        "rules": [
            {
                "name": "r1",
                "conditions": {
                    "any": [
                        {"name": "day_of_week", "operator": "is_in", "value": ["saturday", "sunday"]},
                        {"name": "attributes.vip", "operator": "is_true"},
                    ]
                },
                "actions": [{"name": "award_points", "params": {"points": 10}}],
            }
        ],
    }


def errors_of(source: Any, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(DocumentInvalid) as info:
        parse_document(source, **kwargs)
    assert all(isinstance(e, FieldError) and e.path for e in info.value.errors)
    return [(e.path, e.reason) for e in info.value.errors]


def with_condition(condition: Any) -> dict[str, Any]:
    doc = good()
    doc["rules"][0]["conditions"] = {"all": [condition]}
    return doc


def test_yaml_document_is_normalised() -> None:
    doc = parse_document(GOOD_YAML)
    assert doc.name == "Tet top-up bonus"
    assert doc.providers == frozenset({"telecom"})
    assert doc.starts_at == datetime(2027, 1, 20, tzinfo=timezone(timedelta(hours=7)))
    assert doc.priority == 100
    assert doc.budget is not None and doc.budget.max_points_per_customer_per_day == 5000
    assert doc.raw["starts_at"] == "2027-01-20T00:00:00+07:00"
    assert doc.raw["rules"][0]["conditions"]["all"][2]["value"] == ["2027-01-20", "2027-02-01"]
    assert doc.rules[0].actions[0].params == {
        "points": 1,
        "per": 10000,
        "max": None,
        "rounding": "down",
        "feeds": "both",
        "to": "customer",
    }
    json.dumps(doc.raw)


def test_json_and_yaml_give_the_same_document() -> None:
    from_yaml = parse_document(GOOD_YAML, fmt="yaml")
    from_json = parse_document(json.dumps(from_yaml.raw), fmt="json")
    from_bytes = parse_document(json.dumps(from_yaml.raw).encode())
    assert from_json.raw == from_yaml.raw == from_bytes.raw
    assert parse_document(from_json.raw).raw == from_json.raw


def test_defaults_and_attribute_types() -> None:
    doc = parse_document(good())
    assert (doc.type, doc.priority, doc.stacking) == ("earning", 0, "stackable")
    assert doc.providers is None and doc.starts_at is None and doc.budget is None
    assert "providers" not in doc.raw and "budget" not in doc.raw
    assert doc.attribute_types == {"vip": "boolean"}
    assert doc.raw["rules"][0]["conditions"]["any"][1] == {
        "name": "attributes.vip",
        "operator": "is_true",
        "value": None,
    }


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            {"name": "amount", "operator": "greater", "value": 1},
            ("rules[0].conditions.all[0].operator", "'greater' is not an operator of numeric variable 'amount'"),
        ),
        (
            {"name": "amout", "operator": "equal_to", "value": 1},
            ("rules[0].conditions.all[0].name", "'amout' is not a variable"),
        ),
        (
            {"name": "category", "operator": "is_in", "value": "grocery"},
            ("rules[0].conditions.all[0].value", "expected a list of strings, not a single string"),
        ),
        (
            {"name": "category", "operator": "is_in", "value": ["a", 3]},
            ("rules[0].conditions.all[0].value[1]", "expected a string, got integer"),
        ),
        (
            {"name": "category", "operator": "is_in", "value": []},
            ("rules[0].conditions.all[0].value", "must not be empty"),
        ),
        (
            {"name": "category", "operator": "equal_to", "value": 5},
            ("rules[0].conditions.all[0].value", "expected a string, got integer"),
        ),
        (
            {"name": "amount", "operator": "equal_to", "value": "5"},
            ("rules[0].conditions.all[0].value", "expected a number, got string"),
        ),
        (
            {"name": "amount", "operator": "equal_to", "value": True},
            ("rules[0].conditions.all[0].value", "expected a number, got boolean"),
        ),
        (
            {"name": "amount", "operator": "less_than", "value": float("inf")},
            ("rules[0].conditions.all[0].value", "must be a finite number"),
        ),
        (
            {"name": "amount", "operator": "between", "value": [10, 1]},
            ("rules[0].conditions.all[0].value", "low bound is greater than high bound"),
        ),
        (
            {"name": "amount", "operator": "between", "value": [1]},
            ("rules[0].conditions.all[0].value", "expected a [low, high] list of two values, got [1]"),
        ),
        (
            {"name": "amount", "operator": "equal_to"},
            ("rules[0].conditions.all[0].value", "required by operator 'equal_to'"),
        ),
        (
            {"name": "category", "operator": "non_empty", "value": "x"},
            ("rules[0].conditions.all[0].value", "operator 'non_empty' takes no value"),
        ),
        (
            {"name": "local_date", "operator": "before", "value": "2027-02-30"},
            ("rules[0].conditions.all[0].value", "expected a date 'YYYY-MM-DD', got '2027-02-30'"),
        ),
        (
            {"name": "local_date", "operator": "between", "value": ["2027-01-01", "20270201"]},
            ("rules[0].conditions.all[0].value[1]", "expected a date 'YYYY-MM-DD', got '20270201'"),
        ),
        (
            {"name": "local_date", "operator": "greater_than", "value": "2027-01-01"},
            ("rules[0].conditions.all[0].operator", "'greater_than' is not an operator of date variable 'local_date'"),
        ),
        (
            {"name": "category", "operator": "matches_regex", "value": "("},
            (
                "rules[0].conditions.all[0].value",
                "invalid regular expression: missing ), unterminated subpattern at position 0",
            ),
        ),
        (
            {"name": "attributes.plan", "operator": "before", "value": "2027-01-01"},
            ("rules[0].conditions.all[0].operator", "'before' is not an operator of string variable 'attributes.plan'"),
        ),
        (
            {"name": "attributes.1plan", "operator": "equal_to", "value": "x"},
            (
                "rules[0].conditions.all[0].name",
                "'attributes.1plan' is not a valid attribute name (attributes.<key>, key: [A-Za-z_][A-Za-z0-9_]{0,63})",
            ),
        ),
        (
            {"name": "attributes.vip", "operator": "is_true", "value": True},
            ("rules[0].conditions.all[0].value", "operator 'is_true' takes no value"),
        ),
        (
            {"name": "amount", "operator": "equal_to", "value": 1, "note": "x"},
            ("rules[0].conditions.all[0].note", "unknown key"),
        ),
        (
            {"all": [], "any": []},
            ("rules[0].conditions.all[0]", "a condition group must have exactly one key, 'all' or 'any'"),
        ),
        ({"any": []}, ("rules[0].conditions.all[0].any", "must not be empty")),
        (
            {"all": {"name": "amount"}},
            ("rules[0].conditions.all[0].all", "expected a list of conditions, got mapping"),
        ),
        ("amount > 5", ("rules[0].conditions.all[0]", "expected a mapping, got string")),
    ],
)
def test_bad_condition(condition: Any, expected: tuple[str, str]) -> None:
    assert errors_of(with_condition(condition)) == [expected]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            {"name": "award_points", "params": {"points": "5"}},
            [("rules[0].actions[0].params.points", "expected an integer, got string")],
        ),
        (
            {"name": "award_points", "params": {"points": 0}},
            [("rules[0].actions[0].params.points", "must be a positive integer")],
        ),
        (
            {"name": "award_points", "params": {"points": 2.5}},
            [("rules[0].actions[0].params.points", "expected an integer, got number")],
        ),
        (
            {"name": "award_points", "params": {}},
            [("rules[0].actions[0].params.points", "required by action 'award_points'")],
        ),
        (
            {"name": "award_points"},
            [("rules[0].actions[0].params.points", "required by action 'award_points'")],
        ),
        (
            {"name": "award_points", "params": {"points": 1, "bonus": 2}},
            [("rules[0].actions[0].params.bonus", "unknown parameter of action 'award_points'")],
        ),
        (
            {"name": "give_points", "params": {"points": 1}},
            [("rules[0].actions[0].name", "'give_points' is not an action")],
        ),
        (
            {"name": "__init__", "params": {}},
            [("rules[0].actions[0].name", "'__init__' is not an action")],
        ),
        (
            {"name": "award_points_per_amount", "params": {"points": 1, "per": 0, "rounding": "sideways"}},
            [
                ("rules[0].actions[0].params.per", "must be a positive number"),
                ("rules[0].actions[0].params.rounding", "'sideways' is not one of down, nearest, up"),
            ],
        ),
        (
            {"name": "award_points_per_amount", "params": {"points": 1, "per": 100, "max": -1}},
            [("rules[0].actions[0].params.max", "must be a positive integer")],
        ),
        (
            {"name": "award_points", "params": {"points": 1}, "when": "now"},
            [("rules[0].actions[0].when", "unknown key")],
        ),
    ],
)
def test_bad_action(action: Any, expected: list[tuple[str, str]]) -> None:
    doc = good()
    doc["rules"][0]["actions"] = [action]
    assert errors_of(doc) == expected


def test_all_errors_are_collected() -> None:
    doc = good()
    doc.update(
        name="",
        type="loyalty",
        providers=["telecom", "telecom", "bad code"],
        starts_at="2027-02-01T00:00:00+07:00",
        ends_at="2027-01-01T00:00:00+07:00",
        priority="high",
        stacking="always",
        budget={"max_points": 0, "per_day": 5},
        colour="red",
    )
    doc["rules"].append({"name": "r1", "conditions": {"all": []}, "actions": []})
    assert errors_of(doc) == [
        ("colour", "unknown key"),
        ("name", "must not be empty"),
        ("type", "'loyalty' is not one of earning, tier, reward"),
        ("providers[1]", "duplicate provider 'telecom'"),
        ("providers[2]", "'bad code' is not a valid provider code"),
        ("ends_at", "must be after starts_at"),
        ("priority", "expected an integer, got string"),
        ("stacking", "'always' is not one of stackable, exclusive"),
        ("budget.per_day", "unknown key"),
        ("budget.max_points", "must be a positive integer"),
        ("rules[1].name", "duplicate rule name (also rules[0])"),
        ("rules[1].conditions.all", "must not be empty (only the lowest tier of a ladder may have none)"),
        ("rules[1].actions", "must not be empty"),
    ]


def test_required_keys_and_shapes() -> None:
    assert errors_of({}) == [("name", "required"), ("rules", "required")]
    assert errors_of({"name": "x", "rules": []}) == [("rules", "must not be empty")]
    assert errors_of({"name": "x", "rules": [{}]}) == [
        ("rules[0].name", "required"),
        ("rules[0].conditions", "required"),
        ("rules[0].actions", "required"),
    ]
    assert errors_of([1, 2]) == [("$", "expected a mapping, got list")]
    assert errors_of({"name": "x", "rules": [], 7: 1, "with space": 2}) == [
        ("[7]", "unknown key"),
        ("['with space']", "unknown key"),
        ("rules", "must not be empty"),
    ]


def test_timestamps_need_an_offset() -> None:
    doc = good()
    doc["starts_at"] = "2027-01-20T00:00:00"
    doc["ends_at"] = "tomorrow"
    assert errors_of(doc) == [
        ("starts_at", "must include a UTC offset, e.g. 2027-01-20T00:00:00+07:00"),
        ("ends_at", "'tomorrow' is not an ISO 8601 date-time"),
    ]
    doc["starts_at"] = datetime(2027, 1, 20, tzinfo=UTC)
    doc["ends_at"] = "2027-01-21T00:00:00Z"
    assert parse_document(doc).raw["ends_at"] == "2027-01-21T00:00:00+00:00"


def test_attribute_used_with_two_types() -> None:
    doc = good()
    doc["rules"][0]["conditions"] = {
        "all": [
            {"name": "attributes.plan", "operator": "equal_to", "value": 5},
            {"name": "attributes.plan", "operator": "equal_to", "value": "gold"},
        ]
    }
    assert errors_of(doc) == [
        (
            "rules[0].conditions.all[1].name",
            "attribute 'attributes.plan' is used as string here but as numeric at rules[0].conditions.all[0]",
        )
    ]


def test_attribute_type_inference() -> None:
    doc = good()
    doc["rules"][0]["conditions"] = {
        "all": [
            {"name": "attributes.a", "operator": "greater_than", "value": 1},
            {"name": "attributes.b", "operator": "equal_to", "value": 1.5},
            {"name": "attributes.c", "operator": "equal_to", "value": "1"},
            {"name": "attributes.d", "operator": "between", "value": [1, 2]},
            {"name": "attributes.e", "operator": "is_false"},
            {"name": "attributes.f", "operator": "non_empty"},
            {"name": "attributes.g", "operator": "not_equal_to", "value": 0},
        ]
    }
    assert parse_document(doc).attribute_types == {
        "a": "numeric",
        "b": "numeric",
        "c": "string",
        "d": "numeric",
        "e": "boolean",
        "f": "string",
        "g": "numeric",
    }


def test_nesting_limit() -> None:
    node: dict[str, Any] = {"name": "amount", "operator": "greater_than", "value": 0}
    for _ in range(11):
        node = {"all": [node]}
    doc = good()
    doc["rules"][0]["conditions"] = node
    path = "rules[0].conditions" + ".all[0]" * 10
    assert errors_of(doc) == [(path, "conditions are nested deeper than 10 levels")]
    doc["rules"][0]["conditions"] = node["all"][0]
    parse_document(doc)


def test_leaf_condition_at_the_top_is_accepted() -> None:
    doc = good()
    doc["rules"][0]["conditions"] = {"name": "amount", "operator": "greater_than", "value": 0}
    assert parse_document(doc).rules[0].conditions["name"] == "amount"


@pytest.mark.parametrize(
    ("source", "fmt", "reason"),
    [
        ("{", "json", "invalid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
        ('{"name": "a", "name": "b"}', "json", "invalid JSON: duplicate key 'name'"),
        ("name: a\nname: b\n", "yaml", "invalid YAML: duplicate key 'name' at line 2, column 1"),
        ("a: &x [1]\nb: *x\n", "yaml", "invalid YAML: aliases are not allowed at line 2, column 4"),
        ("a: !!python/object:os.system {}\n", "yaml", None),
        (b"\xff\xfe", None, "document is not valid UTF-8"),
        ("- 1\n- 2\n", None, "expected a mapping, got list"),
        ("", None, "expected a mapping, got null"),
        ("[" * 100_000, "json", "document is nested too deeply"),
        ("x" * (MAX_SOURCE_BYTES + 1), None, f"document is larger than {MAX_SOURCE_BYTES} bytes"),
    ],
)
def test_unparseable_sources(source: str | bytes, fmt: str | None, reason: str | None) -> None:
    errors = errors_of(source, fmt=fmt)
    assert len(errors) == 1 and errors[0][0] == "$"
    if reason is not None:
        assert errors[0][1] == reason


def test_yaml_billion_laughs_is_refused_before_expansion() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    assert errors_of("\n".join(lines), fmt="yaml")[0][1].startswith("invalid YAML: aliases are not allowed")


def test_input_mapping_is_not_modified() -> None:
    doc = good()
    before = copy.deepcopy(doc)
    parse_document(doc)
    assert doc == before


def test_error_message_lists_every_error() -> None:
    with pytest.raises(DocumentInvalid) as info:
        parse_document({"rules": 1})
    assert str(info.value) == "name: required\nrules: expected a list, got integer"


def _with_condition(condition: dict[str, Any]) -> dict[str, Any]:
    doc = good()
    doc["rules"][0]["conditions"] = {"all": [condition]}
    return doc


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        (
            {"name": "day_of_week", "operator": "is_in", "value": ["saturdy", "sunday"]},
            "'saturdy' is not a day; did you mean 'saturday'?",
        ),
        ({"name": "day_of_week", "operator": "equal_to", "value": "Sunday"}, "did you mean 'sunday'?"),
        ({"name": "hour", "operator": "greater_than", "value": 25}, "can never match 'hour': hours are 0-23"),
        ({"name": "hour", "operator": "equal_to", "value": 24}, "hours are 0-23"),
        ({"name": "hour", "operator": "less_than", "value": 0}, "hours are 0-23"),
        ({"name": "day_of_week_number", "operator": "equal_to", "value": 9}, "days are numbered 1 (Monday)"),
        ({"name": "birthday_month", "operator": "between", "value": [13, 14]}, "months are 1-12"),
    ],
)
def test_conditions_that_can_never_match_are_errors(condition: dict[str, Any], reason: str) -> None:
    errors = errors_of(_with_condition(condition))
    assert len(errors) == 1
    path, message = errors[0]
    assert path.startswith("rules[0].conditions.all[0].value")
    assert reason in message


@pytest.mark.parametrize(
    "condition",
    [
        {"name": "hour", "operator": "greater_than_or_equal_to", "value": 23},
        {"name": "hour", "operator": "between", "value": [18, 23]},
        {"name": "day_of_week_number", "operator": "less_than_or_equal_to", "value": 1},
        {"name": "day_of_week", "operator": "not_in", "value": ["monday"]},
        {"name": "provider", "operator": "equal_to", "value": "anything"},  # providers unknown: not checked
    ],
)
def test_conditions_on_the_edge_of_a_closed_set_are_valid(condition: dict[str, Any]) -> None:
    parse_document(_with_condition(condition))


def test_known_codes_are_checked_with_a_suggestion() -> None:
    known = Known(
        providers=frozenset({"telecom", "shop"}), tiers=frozenset({"member", "silver"}), rewards=frozenset({"DATA1GB"})
    )
    doc = _with_condition({"name": "provider", "operator": "equal_to", "value": "shopp"})
    doc["providers"] = ["telecom", "shopp"]
    doc["rules"].append(
        {
            "name": "r2",
            "conditions": {"all": [{"name": "customer_tier", "operator": "is_in", "value": ["silvr", "member"]}]},
            "actions": [{"name": "grant_reward", "params": {"reward": "DATA2GB"}}],
        }
    )
    errors = dict(errors_of(doc, known=known))
    assert errors["providers[1]"] == "'shopp' is not a provider; did you mean 'shop'?"
    assert errors["rules[0].conditions.all[0].value"] == "'shopp' is not a provider; did you mean 'shop'?"
    assert (
        errors["rules[1].conditions.all[0].value[0]"] == "'silvr' is not a tier of the ladder; did you mean 'silver'?"
    )
    assert errors["rules[1].actions[0].params.reward"] == (
        "'DATA2GB' is not a reward of the catalog; did you mean 'DATA1GB'?"
    )
    fixed = _with_condition({"name": "provider", "operator": "equal_to", "value": "shop"})
    fixed["providers"] = ["telecom", "shop"]
    parse_document(fixed, known=known)
