"""The marketer's reference (docs/rules.md), generated so it cannot drift from the code.

``python -m rules.docs`` prints it. Variables, operators and actions come from
``export_rules_vocabulary()`` and ``ACTION_PARAMS``; the hand-written sections
live here, and the worked examples are data (``EXAMPLES``) that the tests run
through ``RuleSet`` to check the result each one states.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import yaml

from rules.actions import ACTION_PARAMS, KEY_VARIABLES
from rules.challenges import CompiledChallenge, completes, count_toward, matching_reference, period_key, reward_effect
from rules.context import EvaluationContext
from rules.document import (
    BOUNDED_VARIABLES,
    BUDGET_KEYS,
    CHALLENGE_PERIODS,
    EXPIRY_POLICIES,
    LIMIT_PERIODS,
    parse_document,
)
from rules.effects import Effect
from rules.engine import CampaignSpec, RuleSet
from rules.vocabulary import export_rules_vocabulary

INPUT_TYPES = {
    "text": "a string",
    "numeric": "a number",
    "none": "no value",
    "select": "one of a list",
    "select_multiple": "a list of strings",
    "numeric_range": "[low, high] numbers, both included",
    "date": "a date YYYY-MM-DD",
    "date_range": "[first, last] dates YYYY-MM-DD, both included",
    "tag": "one tag ([a-z0-9_-], up to 64)",
    "tag_list": "a list of tags",
}
TYPE_NOTES = {
    "numeric": "Compared as decimals with a tolerance of 0.000001 (business-rules' EPSILON).",
    "string": "A missing value is the empty string; comparisons are exact unless the operator says otherwise.",
    "boolean": "Only a real true is true; a missing attribute is false.",
    "date": "The local calendar date of the event, in the customer's timezone.",
    "tag_set": "A set of exact tags ([a-z0-9_-]); membership is exact, no case folding.",
}


@dataclass(frozen=True)
class Example:
    """A worked example: campaigns, one event, and the effects it must produce."""

    title: str
    story: str
    campaigns: list[dict[str, Any]]
    event: dict[str, Any]
    expected: list[dict[str, Any]]
    max_points_per_transaction: int | None = None
    notes: list[str] = field(default_factory=list)

    def specs(self) -> list[CampaignSpec]:
        return [CampaignSpec(id=i + 1, version=1, document=parse_document(doc)) for i, doc in enumerate(self.campaigns)]

    def context(self) -> EvaluationContext:
        fields = dict(self.event)
        fields["occurred_at"] = datetime.fromisoformat(fields["occurred_at"])
        for name in ("amount", "spend_today", "spend_7d", "spend_30d", "spend_365d"):
            if name in fields:
                fields[name] = Decimal(fields[name])
        if "customer_tags" in fields:
            fields["customer_tags"] = frozenset(fields["customer_tags"])
        fields.setdefault("currency", "VND")
        fields.setdefault("category", None)
        fields.setdefault("channel", None)
        return EvaluationContext(**fields)

    def run(self) -> list[Effect]:
        return RuleSet(self.specs(), max_points_per_transaction=self.max_points_per_transaction).evaluate(
            self.context()
        )


def summary(effect: Effect) -> dict[str, Any]:
    """The parts of an Effect a worked example states."""
    result: dict[str, Any] = {"campaign": effect.campaign_id, "action": effect.action, "points": effect.points}
    if effect.value is not None:
        result["value"] = effect.value
    if effect.capped_from is not None:
        result["capped_from"] = effect.capped_from
    return result


def _rule(name: str, conditions: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "conditions": {"all": conditions}, "actions": actions}


BASE_EARNING = {
    "name": "Base earning",
    "priority": 0,
    "rules": [
        _rule(
            "1 point per 10,000 VND",
            [{"name": "amount", "operator": "greater_than_or_equal_to", "value": 10000}],
            [{"name": "award_points_per_amount", "params": {"points": 1, "per": 10000}}],
        )
    ],
}

EXAMPLES: list[Example] = [
    Example(
        title="Tết week doubles the base earning",
        story=(
            "The Tết campaign runs first (priority 100) and awards as much again as the base campaign during the"
            " local dates 2027-02-05 to 2027-02-12, both included. A 250,000 VND top-up on 2027-02-06 at 09:00 in"
            " Ho Chi Minh City earns 25 + 25 points."
        ),
        campaigns=[
            BASE_EARNING,
            {
                "name": "Tet week",
                "priority": 100,
                "rules": [
                    _rule(
                        "during Tet",
                        [{"name": "local_date", "operator": "between", "value": ["2027-02-05", "2027-02-12"]}],
                        [{"name": "award_points_per_amount", "params": {"points": 1, "per": 10000}}],
                    )
                ],
            },
        ],
        event={"amount": "250000", "provider": "telecom", "occurred_at": "2027-02-06T09:00:00+07:00"},
        expected=[
            {"campaign": 2, "action": "award_points_per_amount", "points": 25},
            {"campaign": 1, "action": "award_points_per_amount", "points": 25},
        ],
        notes=["local_date is the date in the customer's timezone: 2027-02-04T20:00:00Z is already 2027-02-05 there."],
    ),
    Example(
        title="Gold members earn 1.5 times",
        story=(
            "A multiplier multiplies the points of the campaigns *below* it (lower priority), never its own or"
            " another multiplier's. Base earning gives 100 points for 1,000,000 VND; the Gold campaign (priority"
            " 500) adds floor(100 x 0.5) = 50."
        ),
        campaigns=[
            BASE_EARNING,
            {
                "name": "Gold multiplier",
                "priority": 500,
                "rules": [
                    _rule(
                        "gold tier",
                        [{"name": "customer_tier", "operator": "equal_to", "value": "gold"}],
                        [{"name": "multiply_points", "params": {"factor": 1.5}}],
                    )
                ],
            },
        ],
        event={
            "amount": "1000000",
            "provider": "retail",
            "customer_tier": "gold",
            "occurred_at": "2027-03-01T12:00:00+07:00",
        },
        expected=[
            {"campaign": 2, "action": "multiply_points", "points": 50},
            {"campaign": 1, "action": "award_points_per_amount", "points": 100},
        ],
    ),
    Example(
        title="An exclusive welcome offer stops the rest",
        story=(
            "The first purchase with a provider earns a flat 500 points and a welcome voucher, and nothing else:"
            " the campaign is exclusive and it awarded, so the lower-priority base earning does not run."
        ),
        campaigns=[
            BASE_EARNING,
            {
                "name": "Welcome",
                "priority": 200,
                "stacking": "exclusive",
                "limits": {"per_customer": {"count": 1, "period": "campaign"}},
                "rules": [
                    _rule(
                        "first purchase here",
                        [{"name": "first_transaction_with_provider", "operator": "is_true", "value": None}],
                        [
                            {"name": "award_points", "params": {"points": 500}},
                            {"name": "grant_reward", "params": {"reward": "WELCOME-50K"}},
                        ],
                    )
                ],
            },
        ],
        event={
            "amount": "300000",
            "provider": "shop",
            "first_transaction_with_provider": True,
            "occurred_at": "2027-03-01T12:00:00+07:00",
        },
        expected=[
            {"campaign": 2, "action": "award_points", "points": 500},
            {"campaign": 2, "action": "grant_reward", "points": 0, "value": "WELCOME-50K"},
        ],
    ),
    Example(
        title="The per-transaction cap keeps the higher priority first",
        story=(
            "With max_points_per_transaction 120, the bonus campaign (priority 100) keeps its 100 points, base"
            " earning is cut from 50 to the 20 left, and the effect says it was capped from 50. Multipliers are"
            " computed before the cap."
        ),
        campaigns=[
            BASE_EARNING,
            {
                "name": "Big basket bonus",
                "priority": 100,
                "rules": [
                    _rule(
                        "500k or more",
                        [{"name": "amount", "operator": "greater_than_or_equal_to", "value": 500000}],
                        [{"name": "award_points", "params": {"points": 100}}],
                    )
                ],
            },
        ],
        event={"amount": "500000", "provider": "retail", "occurred_at": "2027-03-01T12:00:00+07:00"},
        max_points_per_transaction=120,
        expected=[
            {"campaign": 2, "action": "award_points", "points": 100},
            {"campaign": 1, "action": "award_points_per_amount", "points": 20, "capped_from": 50},
        ],
    ),
    Example(
        title="Birthday month: a reward, a tag and a message, no points",
        story=(
            "Effects without points are kept: the caller grants the reward, tags the customer and sends the"
            " notification. Only points effects that come to 0 are dropped (here: a 5,000 VND purchase earns no"
            " base points)."
        ),
        campaigns=[
            BASE_EARNING,
            {
                "name": "Birthday treat",
                "priority": 50,
                "rules": [
                    _rule(
                        "birthday month, not yet treated",
                        [
                            {"name": "is_birthday_month", "operator": "is_true", "value": None},
                            {"name": "customer_tags", "operator": "does_not_contain", "value": "birthday-2027"},
                        ],
                        [
                            {"name": "grant_reward", "params": {"reward": "BDAY-CAKE"}},
                            {"name": "add_tag", "params": {"tag": "birthday-2027"}},
                            {"name": "notify", "params": {"template": "birthday_treat"}},
                        ],
                    )
                ],
            },
        ],
        event={
            "amount": "5000",
            "provider": "retail",
            "birthday_month": 3,
            "customer_tags": ["vip"],
            "occurred_at": "2027-03-10T08:00:00+07:00",
        },
        expected=[
            {"campaign": 2, "action": "grant_reward", "points": 0, "value": "BDAY-CAKE"},
            {"campaign": 2, "action": "add_tag", "points": 0, "value": "birthday-2027"},
            {"campaign": 2, "action": "notify", "points": 0, "value": "birthday_treat"},
        ],
    ),
    Example(
        title="One action for a banded rate",
        story=(
            "Instead of three near-identical rules, one action with bands: below 500,000 VND 1 point per 10,000,"
            " from 500,000 3 points per 20,000 (1.5 per 10,000), from 1,000,000 2 points per 10,000. The whole"
            " amount earns the rate of its band: 750,000 VND earns 3 x 750,000 / 20,000 = 112.5, rounded down to"
            " 112 (a 499,999 VND top-up would earn 49)."
        ),
        campaigns=[
            {
                "name": "Top-up bands",
                "rules": [
                    _rule(
                        "banded top-up rate",
                        [{"name": "category", "operator": "equal_to", "value": "topup"}],
                        [
                            {
                                "name": "award_points_per_amount",
                                "params": {
                                    "bands": [
                                        {"from": 0, "points": 1, "per": 10000},
                                        {"from": 500000, "points": 3, "per": 20000},
                                        {"from": 1000000, "points": 2, "per": 10000},
                                    ]
                                },
                            }
                        ],
                    )
                ],
            },
        ],
        event={
            "amount": "750000",
            "provider": "telecom",
            "category": "topup",
            "occurred_at": "2027-03-01T12:00:00+07:00",
        },
        expected=[{"campaign": 1, "action": "award_points_per_amount", "points": 112}],
    ),
    Example(
        title="A rate table keyed by the merchant group",
        story=(
            "The e-wallet sends `attributes.merchant_group`; one action holds the whole rate card: food 3 points"
            " per 10,000 VND, fuel 1 per 20,000, and any other group (or none) the standard 1 per 10,000. A"
            " 200,000 VND food payment earns 60 points; the same payment at a pharmacy would earn 20."
        ),
        campaigns=[
            {
                "name": "Merchant rate card",
                "providers": ["ewallet"],
                "rules": [
                    _rule(
                        "rate by merchant group",
                        [{"name": "amount", "operator": "greater_than", "value": 0}],
                        [
                            {
                                "name": "award_points_per_amount",
                                "params": {
                                    "by": "attributes.merchant_group",
                                    "rates": {"food": {"points": 3, "per": 10000}, "fuel": {"points": 1, "per": 20000}},
                                    "points": 1,
                                    "per": 10000,
                                },
                            }
                        ],
                    )
                ],
            },
        ],
        event={
            "amount": "200000",
            "provider": "ewallet",
            "attributes": {"merchant_group": "food"},
            "occurred_at": "2027-03-01T12:00:00+07:00",
        },
        expected=[{"campaign": 1, "action": "award_points_per_amount", "points": 60}],
    ),
    Example(
        title="2.5 % back on the e-wallet, at most 5,000 points",
        story=(
            "A percentage is a decimal share of the amount: `percent: 0.025` is 2.5 %. A 123,500 VND payment earns"
            " 123,500 x 0.025 = 3,087.5, rounded to nearest (ties round up) 3,088 points; a 400,000 VND payment"
            " would earn 10,000 but `max` keeps it at 5,000."
        ),
        campaigns=[
            {
                "name": "E-wallet cashback",
                "providers": ["ewallet"],
                "rules": [
                    _rule(
                        "2.5 % of every payment",
                        [{"name": "amount", "operator": "greater_than", "value": 0}],
                        [
                            {
                                "name": "award_points_percent",
                                "params": {"percent": 0.025, "rounding": "nearest", "max": 5000},
                            }
                        ],
                    )
                ],
            },
        ],
        event={"amount": "123500", "provider": "ewallet", "occurred_at": "2027-03-01T12:00:00+07:00"},
        expected=[{"campaign": 1, "action": "award_points_percent", "points": 3088}],
    ),
    Example(
        title="VIP customers of a year's standing earn a bonus",
        story=(
            "The telecom marks its VIPs once through `PUT /api/v1/customers/{id}/attributes` (`{vip: true}`, declared"
            " `vip: boolean` in the programme setting `customer_attributes`); no transaction carries the flag. A VIP"
            " customer since 2026-01-10 (`member_since`, 13 whole months before this top-up) who has been with the"
            " telecom 5 months earns the 200-point bonus; 11 months of service would earn nothing."
        ),
        campaigns=[
            {
                "name": "Loyal VIP bonus",
                "rules": [
                    _rule(
                        "VIP for 12 months",
                        [
                            {"name": "customer.vip", "operator": "is_true"},
                            {"name": "months_of_service", "operator": "greater_than_or_equal_to", "value": 12},
                            {"name": "months_with_provider", "operator": "greater_than_or_equal_to", "value": 3},
                        ],
                        [{"name": "award_points", "params": {"points": 200}}],
                    )
                ],
            },
        ],
        event={
            "amount": "100000",
            "provider": "telecom",
            "customer_attributes": {"vip": True, "segment": "family"},
            "months_of_service": 13,
            "months_with_provider": 5,
            "occurred_at": "2027-03-01T12:00:00+07:00",
        },
        expected=[{"campaign": 1, "action": "award_points", "points": 200}],
    ),
    Example(
        title="A rate card keyed by the customer's segment",
        story=(
            "The bank sets each customer's `segment` once (`PUT /api/v1/customers/{id}/attributes`, declared"
            " `segment: string` in the programme setting `customer_attributes`); the rate table reads it with"
            " `by: customer.segment`, so no transaction carries it. Premier customers earn 5 points per 10,000 VND,"
            " family 2 per 10,000, everyone else (or a customer with no segment) 1 per 10,000: a 300,000 VND payment"
            " by a premier customer earns 150 points, by a family customer 60, by anyone else 30. A `by` naming an"
            " undeclared attribute, or one declared `boolean` or `numeric`, is refused at `params.by`."
        ),
        campaigns=[
            {
                "name": "Segment rate card",
                "providers": ["bank"],
                "rules": [
                    _rule(
                        "rate by customer segment",
                        [{"name": "amount", "operator": "greater_than", "value": 0}],
                        [
                            {
                                "name": "award_points_per_amount",
                                "params": {
                                    "by": "customer.segment",
                                    "rates": {
                                        "premier": {"points": 5, "per": 10000},
                                        "family": {"points": 2, "per": 10000},
                                    },
                                    "points": 1,
                                    "per": 10000,
                                },
                            }
                        ],
                    )
                ],
            },
        ],
        event={
            "amount": "300000",
            "provider": "bank",
            "customer_attributes": {"segment": "premier"},
            "occurred_at": "2027-03-01T12:00:00+07:00",
        },
        expected=[{"campaign": 1, "action": "award_points_per_amount", "points": 150}],
    ),
]

FORMAT = """\
## Document format

A campaign is one JSON or YAML document. `conditions` and `actions` use the
[business-rules](https://github.com/venmo/business-rules) format; every
document is validated completely before it can be published, and each error
names its path, e.g. `rules[0].conditions.all[1].operator`.

```yaml
name: Tet top-up bonus       # or {vi: Thưởng nạp tiền Tết, en: Tet top-up bonus}: customers read theirs
type: earning                # earning | tier | reward (default earning)
providers: [telecom]         # omitted: all providers
starts_at: 2027-01-20T00:00:00+07:00   # optional, UTC offset required
ends_at: 2027-02-20T00:00:00+07:00     # optional, exclusive
priority: 100                # higher runs first (default 0)
stacking: stackable          # or exclusive (default stackable)
pending_days: 14             # points held pending for a return window (0..365, default 0)
budget: {max_points: 50000000, max_points_per_customer_per_day: 5000}
limits: {per_customer: {count: 1, period: day}}
points_expiry: end_of_next_month   # optional: this campaign's points expire otherwise than the programme's
experiment: {control_share: 10}    # optional: hold out 10 % of customers as a control group
rules:
  - name: top-up of 100k or more
    conditions:
      all:
        - {name: category, operator: equal_to, value: topup}
        - {name: amount, operator: greater_than_or_equal_to, value: 100000}
    actions:
      - {name: award_points_per_amount, params: {points: 1, per: 10000}}
```

| key | meaning |
|---|---|
| `budget` | positive integers, any of: BUDGET_KEYS. Enforced by the caller, which holds the counters. |
| `limits.per_customer` | at most `count` awards per customer per `period` (LIMIT_PERIODS); enforced by the caller. |
| `rules[].limits.per_customer` | the same limit on one rule only (a welcome bonus once a year beside an everyday \
rate); a rule past it gives nothing, its note says why. |
| `points_expiry` | when this campaign's points expire, instead of the programme's policy (below). |
| `pending_days` | the campaign's points stay pending this many days (a return window) before they can be spent. |
| `experiment.control_share` | 1..99: that percent of customers (by a stable hash) is evaluated, never awarded. |
| `rules[].conditions` | a tree of `all` / `any` groups (at most 10 deep) whose leaves are `{name, operator, value}`. |
| `rules[].actions` | 1 to 20 actions; every rule whose conditions hold fires. |

`points_expiry` takes a policy (EXPIRY_POLICIES): `{policy: rolling_months, months: N}` (N months
after earning, default 12), `end_of_next_year`, `never`, `end_of_next_month` (the end of the month
after the month earned) or `{policy: end_of_month_after, months: N}` (the end of the N-th month after
it; N 1..120). Months are calendar months in the programme's time zone. A policy without months may
be written alone (`points_expiry: never`). The points of other campaigns keep the programme's expiry.

Provider attributes are variables too: `attributes.<key>` (key
`[A-Za-z_][A-Za-z0-9_]{0,63}`). Their type follows from the operator (and a
numeric value); a missing or mistyped attribute makes numeric conditions
false.

Customer attributes are variables as well: `customer.<name>` reads what providers set on the
customer (`PUT /api/v1/customers/{id}/attributes`, or the `attributes.<name>` columns of a
customer migration file), so a VIP flag need not ride on every transaction. Their types are
declared once in the programme setting `customer_attributes` (`{vip: boolean, segment: string,
score: numeric}`); a condition naming an undeclared attribute is an error with a suggestion, and
an operator or value of the wrong type is an error. A rate table may be keyed by one declared
`string` (`award_points_per_amount` with `by: customer.segment`, worked example 10). The namespace
is programme-wide: any provider may set a declared attribute of a customer it has dealt with, and
every change is audited.

Length of service: `months_of_service` counts whole months from the customer's `member_since`
(given by a migration file) or else the first transaction with any provider, to the event;
`months_with_provider` counts them from the earliest transaction (or migrated `member_since`) with
the event's provider. Both use the programme's time zone and are 0 for a first transaction.

### Tier documents

```yaml
name: Membership tiers
type: tier
grace_days: 30               # keep a tier this long after no longer qualifying (default 30)
tiers:
  - {code: silver, name: {vi: Bạc, en: Silver}, rank: 1, benefits: {earn_multiplier: 1.2}}
  - {code: gold, name: Gold, rank: 2, benefits: {earn_multiplier: 1.5, lounge: true}}
rules:
  - name: gold from 20,000 qualifying points
    conditions:
      all:
        - {name: qualifying_points_365d, operator: greater_than_or_equal_to, value: 20000}
    actions:
      - {name: set_tier, params: {tier: gold}}
```

A tier's `name` is what customers read (portal, SMS, USSD): one string for both languages, or
`{vi: ..., en: ...}`, each customer getting theirs.

The first rung needs no dummy condition: the rule giving the lowest-rank tier may
have `conditions: {all: []}` (always true), so every customer starts there. No
other rule may have empty conditions, and `any: []` is always refused.

```yaml
  - name: everyone starts at silver
    conditions: {all: []}
    actions:
      - {name: set_tier, params: {tier: silver}}
```

Codes are unique (`[a-z0-9_-]`), ranks are unique integers (higher is
better), `earn_multiplier` is 1..10 and other benefits are free scalars. The
only action is `set_tier`, naming a defined code; `set_tier` is refused in
other documents. A customer qualifies for the highest-rank tier whose rule
fires (`evaluate_tier`). Providers, dates, stacking, budgets and limits do not
apply to tier documents.

### Challenges

An earning campaign may carry a `challenge`: a multi-step goal per customer and period, rewarded once
when every step is reached. Its `rules` may then be omitted (or empty): the challenge alone rewards.

```yaml
name: Top-up and parcel month
challenge:
  period: month              # month (local calendar) | week (ISO, Monday to Sunday) | campaign (its whole life)
  steps:
    - name: 3 top-ups of 50,000
      count: 3               # 1..1000 (default 1)
      conditions:
        all:
          - {name: category, operator: equal_to, value: topup}
          - {name: amount, operator: greater_than_or_equal_to, value: 50000}
    - name: one parcel
      conditions: {all: [{name: category, operator: equal_to, value: parcel}]}
  reward: {award_points: 500}   # or {grant_reward: REWARD_CODE}
```

| key | meaning |
|---|---|
| `challenge.period` | CHALLENGE_PERIODS: progress starts again at zero in each period (by the event's local time). |
| `challenge.steps` | 1 to 20 steps, names unique; `conditions` as a rule's (`{all: []}`: every event counts). |
| `challenge.steps[].count` | how many events the step needs (1..1000, default 1). |
| `challenge.reward` | exactly one of `award_points` (1..1,000,000,000 points) or `grant_reward` (a reward code). |

The accrual worker counts each credited transaction (of the campaign's providers, within its dates)
toward the *first* step, in document order, that it matches and that still needs events; one event never
counts for two steps. When the last step is reached the reward is credited once, as an earning of the
transaction that completed it (the campaign's budget, funding and `points_expiry` apply; multipliers
and the per-transaction cap do not). Later events of that period count for nothing. A replayed body
or a retried batch never counts twice. A full refund of a transaction takes its count back while the
challenge is not completed; a partial refund keeps it; a completed challenge stays completed, and a
refund of the completing transaction claws the reward back in proportion like its other points.
Progress is shown on `/api/v1/me` (`challenges`) and on the portal's home page.
"""

NEVER_MATCH = """\
## Values a condition can never match

A condition that no event can ever satisfy is refused when the document is
validated, with the path and a suggestion, instead of publishing a campaign that
silently never fires:

- `day_of_week` takes `monday` .. `sunday` (lower case): `'saturdy' is not a day; did you mean 'saturday'?`
- numeric variables with a closed range: BOUNDED.
- codes the programme knows, when the document is checked by the catalog (API, editor, CLI):
  `provider` values and the `providers` list (provider codes), `customer_tier` values (the
  published ladder's codes, or the document's own tiers in a tier document; `""` means no tier yet)
  and `grant_reward` rewards (the catalog's reward codes).
"""

ORDER = """\
## Evaluation order

For one event, `RuleSet.evaluate`:

1. Takes the `earning` campaigns only.
2. Keeps those that apply: the event's provider is listed (or none are), the
   event happened in `[starts_at, ends_at)`, and the campaign was published
   before the event was received.
3. Runs them by `priority`, highest first; equal priorities by campaign id.
4. In each campaign, every rule whose conditions hold fires, in document
   order; its actions run in order, each giving one effect.
5. Drops points effects that came to 0 points. Rewards, tags, notifications
   and multipliers are always kept.
6. Stacking: once an `exclusive` campaign has awarded (points above 0 or a
   reward), the campaigns after it do not run.
7. Multipliers: a `multiply_points` effect gets floor(S x (factor - 1))
   points, S being the customer points of the campaigns that ran after it
   (lower priority). Multipliers never multiply each other or their own
   campaign.
8. Cap: with a programme-wide `max_points_per_transaction`, customer points
   are kept in this order until the cap; the effect that crosses it is cut
   (`capped_from` records what it had) and later ones get 0. Points sent only
   to the referrer are neither multiplied nor capped.

Conditions compare the customer's figures *before* this event (points,
spend and transaction counts), so a rule never sees its own effect.
"""


PROGRAMME = """\
## What happens after the rules: the books

The engine returns effects; the accrual worker applies them to the books in one database
transaction per batch. The campaigns layer (`campaigns/accrual/crediting.py`) enforces, in this order:

1. **Tier earning multiplier.** If the customer's tier has `benefits.earn_multiplier` m > 1, a
   "tier bonus" of floor((m - 1) * the customer's points from this transaction) is added.
2. **Per-customer limit** (`limits.per_customer`): a campaign awards at most `count` times per
   `day`/`week`/`month` (local calendar) or over the whole `campaign`.
3. **Per-customer caps** (`budget.max_points_per_customer_per_day`, `budget.max_points_per_customer`).
4. **Campaign budget** (`budget.max_points`; `budget.max_rewards` for `grant_reward`). Budget rows are
   locked while a batch writes, so racing workers end exactly at the budget, never above.
   Refunded points are not returned to a budget.

When a cap cuts an award, the ledger records the points that were allowed (zero included) with a
note such as `daily cap of 30 points per customer (wanted 50)`; the transaction's detail shows it.

**Aggregates** (`points_*`, `spend_*`, `transactions_*`, `providers_used_365d`,
`days_since_first_transaction`, `first_transaction_with_provider`) count what happened *before*
the event being evaluated, across all providers, by the customer's local day. They are computed
from the `customer_daily` table written in the same database transaction as the ledger, so they
are exact and survive a Redis flush; refunds take their points and spend back out.

**Two balances.** Every award feeds `spendable` points, `qualifying` points (tiers only), or
`both` (the default). Tier rules look at `qualifying_points_365d` and the spend windows.

**Pending points.** A campaign with `pending_days: N` holds its points as pending for N days (a
return window); a refund in that window cancels them; the lifecycle job then makes them spendable.

**Expiry.** Every spendable award is a lot with its own expiry date, by the programme setting
`points_expiry`: `rolling_months` (default 12 months after earning), `end_of_next_year`, `never`,
`end_of_next_month` or `{policy: end_of_month_after, months: N}` (the same policies, checked by the same
validator, as a campaign's); a campaign's own `points_expiry` replaces it for the points that campaign awards (its
multiplier's included). Spending takes the lots that expire soonest first (FIFO by expiry): redemptions,
points payments at a provider's checkout and point transfers alike; transferred points keep their expiry with
the member who receives them. The lifecycle job
(every few minutes in the workers, or `flask --app wsgi lifecycle`) writes an `expiry` entry for
what is left in each expired lot. A customer's profile lists what expires when.

**Unredeemed points.** The programme setting `expired_points` says what happens to points about to
expire: `{action: write_off}` (the default: the `expiry` entries above), or
`{action: convert_to_offer, after_months_without_redemption: N, offer: REWARD_CODE, within_days: D}`
(N from 1 to 120; `offer` a known reward code; `within_days` 1 to 90, default 1). Before it expires
anything, the lifecycle job converts, for each customer who made no paid redemption in the last N
months (a conversion counts as one), the points expiring within the next D days into the reward: one
redemption made by the programme (requested by and audited as `programme`, source `expiry_offer`),
through the same redemption service as any other (stock, eligibility and per-customer limit apply;
the reward's fulfilling provider is reimbursed in clearing; the customer gets the
`expired_points_converted` message). Only when those expiring points cover the reward's cost: a
conversion never makes up the difference from points that are not expiring. Never twice: a rerun,
or a run after staff cancel the conversion, finds the marker and converts nothing. What is not
converted expires as before. Worked example (a test runs it through the lifecycle job): the setting
EXPIRED_POINTS_SETTING and a reward costing EXPIRED_POINTS_COST points give

EXPIRED_POINTS_TABLE

**Refunds after spending.** A refund claws points back in proportion to the refunded share: first
from the lot of that earning, then from the customer's other points (soonest expiry first). What
cannot be taken because it was already spent becomes **debt**; the customer's next earnings pay
the debt first (`debt_recovery` entries). Balances never go below zero in the books. With the
setting `allow_negative_balance: true` the API shows `balance - debt` (possibly negative) instead
of the two numbers. We chose debt over a negative balance so that lots, FIFO spending and expiry
stay simple and a refund never blocks a redemption already made.

**Tiers.** The published tier document is evaluated after every credited transaction: a customer
who qualifies for a higher rank is upgraded at once. Downgrades happen only at the daily
requalification (`flask --app wsgi tiers requalify`), and only once the customer has held the tier
for `grace_days`. Every change is recorded with its reason in the tier history.

**Groups.** Up to 5 customers (configurable per group) pool their spendable points for
redemptions (`"pool": true`); each member keeps their own ledger and tier.

**Invariants.** `flask --app wsgi ledger check` proves, for every customer, that balance, pending,
qualifying and debt equal the sums of the ledger, that available lots add up to the balance, that
no lot was spent twice, that no refund took back more than was earned, and that budgets hold.
"""


EXPIRED_POINTS_EXAMPLE: dict[str, Any] = {
    "setting": {"action": "convert_to_offer", "after_months_without_redemption": 3, "offer": "DATA"},
    "cost": 50,
    "customers": [  # months since the last paid redemption: None for never
        {"who": "dormant", "expiring": 120, "months_since_redemption": None, "converted": 50, "left": 70},
        {"who": "short", "expiring": 30, "months_since_redemption": None, "converted": 0, "left": 30},
        {"who": "active", "expiring": 50, "months_since_redemption": 0, "converted": 0, "left": 50},
        {"who": "lapsed", "expiring": 50, "months_since_redemption": 4, "converted": 50, "left": 0},
    ],
}


def _expired_points_table() -> str:
    rows = [
        [
            c["who"],
            str(c["expiring"]),
            "never" if c["months_since_redemption"] is None else str(c["months_since_redemption"]),
            str(c["converted"]),
            str(c["left"]),
        ]
        for c in EXPIRED_POINTS_EXAMPLE["customers"]
    ]
    header = ["customer", "points expiring", "last redemption (months ago)", "converted", "left to expire"]
    return _table(header, rows)


@dataclass(frozen=True)
class ChallengeExample:
    """A worked challenge: one campaign, a customer's events in order, and what each one does to the progress."""

    title: str
    story: str
    campaign: dict[str, Any]
    events: list[dict[str, Any]]
    expected: list[dict[str, Any]]  # per event: period, step (name or None), progress, rewarded

    def spec(self) -> CampaignSpec:
        return CampaignSpec(id=1, version=1, document=parse_document(self.campaign))

    def run(self, *, reference: bool = False) -> list[dict[str, Any]]:
        """What the worker does, with the progress rows kept in a dict; ``reference`` uses business-rules."""
        spec = self.spec()
        compiled = CompiledChallenge.of(spec)
        challenge = compiled.challenge
        progress: dict[str, list[int]] = {}
        finished: set[str] = set()
        rows = []
        for event in self.events:
            ctx = Example("", "", [], event, []).context()
            period = period_key(challenge.period, ctx)
            counts = progress.setdefault(period, [0] * len(challenge.steps))
            matched = matching_reference(spec, ctx) if reference else compiled.matching(ctx)
            step = None if period in finished else count_toward(challenge, counts, matched)
            rewarded = None
            if step is not None:
                counts[step] += 1
                if completes(challenge, counts):
                    finished.add(period)
                    effect = reward_effect(spec)
                    rewarded = effect.value or f"{effect.points} points"
            rows.append(
                {
                    "period": period,
                    "step": None if step is None else challenge.steps[step].name,
                    "progress": list(counts),
                    "rewarded": rewarded,
                }
            )
        return rows


CHALLENGE_EXAMPLES: list[ChallengeExample] = [
    ChallengeExample(
        title="Three top-ups and a parcel in a month",
        story="Each event counts toward the first step it matches that still needs it; the reward comes once, "
        "with the event that completes the last step; the next month starts again.",
        campaign={
            "name": "Top-up and parcel month",
            "challenge": {
                "period": "month",
                "steps": [
                    {
                        "name": "3 top-ups of 50,000",
                        "count": 3,
                        "conditions": {
                            "all": [
                                {"name": "category", "operator": "equal_to", "value": "topup"},
                                {"name": "amount", "operator": "greater_than_or_equal_to", "value": 50000},
                            ]
                        },
                    },
                    {
                        "name": "one parcel",
                        "conditions": {"all": [{"name": "category", "operator": "equal_to", "value": "parcel"}]},
                    },
                ],
                "reward": {"award_points": 500},
            },
        },
        events=[
            {"amount": "60000", "category": "topup", "provider": "telecom", "occurred_at": "2027-03-02T10:00:00+07:00"},
            {"amount": "20000", "category": "topup", "provider": "telecom", "occurred_at": "2027-03-03T10:00:00+07:00"},
            {"amount": "30000", "category": "parcel", "provider": "post", "occurred_at": "2027-03-05T10:00:00+07:00"},
            {"amount": "50000", "category": "topup", "provider": "telecom", "occurred_at": "2027-03-09T10:00:00+07:00"},
            {"amount": "30000", "category": "parcel", "provider": "post", "occurred_at": "2027-03-12T10:00:00+07:00"},
            {"amount": "90000", "category": "topup", "provider": "telecom", "occurred_at": "2027-03-20T10:00:00+07:00"},
            {"amount": "70000", "category": "topup", "provider": "telecom", "occurred_at": "2027-03-28T10:00:00+07:00"},
            {"amount": "70000", "category": "topup", "provider": "telecom", "occurred_at": "2027-03-31T18:30:00+00:00"},
        ],
        expected=[
            {"period": "2027-03", "step": "3 top-ups of 50,000", "progress": [1, 0], "rewarded": None},
            {"period": "2027-03", "step": None, "progress": [1, 0], "rewarded": None},
            {"period": "2027-03", "step": "one parcel", "progress": [1, 1], "rewarded": None},
            {"period": "2027-03", "step": "3 top-ups of 50,000", "progress": [2, 1], "rewarded": None},
            {"period": "2027-03", "step": None, "progress": [2, 1], "rewarded": None},
            {"period": "2027-03", "step": "3 top-ups of 50,000", "progress": [3, 1], "rewarded": "500 points"},
            {"period": "2027-03", "step": None, "progress": [3, 1], "rewarded": None},
            {"period": "2027-04", "step": "3 top-ups of 50,000", "progress": [1, 0], "rewarded": None},
        ],
    ),
]


def _challenge_examples() -> str:
    parts = [
        "## Worked challenge examples",
        "",
        "Each example is also a test: the rows shown are what the engine's challenge functions give (the compiled "
        "and the business-rules evaluators alike).",
        "",
    ]
    for number, example in enumerate(CHALLENGE_EXAMPLES, 1):
        parts += [f"### {number}. {example.title}", "", example.story, ""]
        parts += ["```yaml", yaml.safe_dump(example.campaign, sort_keys=False, width=100).rstrip(), "```", ""]
        rows = [
            [
                ", ".join(f"{k}={v}" for k, v in event.items()),
                row["period"],
                row["step"] or "—",
                " / ".join(str(c) for c in row["progress"]),
                row["rewarded"] or "",
            ]
            for event, row in zip(example.events, example.expected, strict=True)
        ]
        parts += [_table(["event", "period", "counts toward", "progress", "reward"], rows), ""]
    return "\n".join(parts)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


PARAM_TEXT = {  # parameters whose input or requirement the generic description would get wrong
    ("award_points_per_amount", "points"): "`points` (a number, required unless `bands`)",
    ("award_points_per_amount", "per"): "`per` (a number, required unless `bands`)",
    ("award_points_per_amount", "bands"): "`bands` (a list of `{from, points, per}`, instead of `points` and `per`)",
    ("award_points_per_amount", "by"): (
        "`by` (a string variable: KEY_VARIABLES, `attributes.<key>` or a customer attribute"
        " `customer.<name>` declared `string`, with `rates`)"
    ),
    ("award_points_per_amount", "rates"): "`rates` (a mapping of values of `by` to `{points, per}`)",
}


def _param_text(action: str, name: str, field_type: str) -> str:
    if (action, name) in PARAM_TEXT:
        return PARAM_TEXT[(action, name)].replace("KEY_VARIABLES", ", ".join(f"`{v}`" for v in KEY_VARIABLES))
    spec = ACTION_PARAMS[action][name]
    needed = "required" if spec.required else f"default `{'null' if spec.default is None else spec.default}`"
    return f"`{name}` ({INPUT_TYPES.get(field_type, field_type)}, {needed})"


ACTION_NOTES = {
    "award_points": "Awards a fixed number of points (1..1,000,000,000).",
    "award_points_per_amount": (
        "points x amount / per, rounded `down`, `nearest` (ties round up: 2.5 -> 3) or `up`,"
        " never below 0, at most `max`. With `bands` (`from` strictly ascending) the whole amount earns the rate"
        " of the band it falls in, the one with the highest `from` not above it; below the first band, nothing."
        " With `by` and `rates` the rate is the one listed for the value of the variable `by` (exact match);"
        " any other value, or a missing one, earns at `points` and `per` when given, else nothing."
    ),
    "award_points_percent": (
        "amount x percent, `percent` a decimal share above 0 and at most 1 (0.025 is 2.5 %), rounded `down`,"
        " `nearest` (ties round up) or `up`, never below 0, at most `max`."
    ),
    "multiply_points": "Factor above 1 and at most 10; applied to the points of lower-priority campaigns (step 7).",
    "grant_reward": "Grants the reward with this code (`[A-Za-z0-9][A-Za-z0-9_.-]`, up to 64).",
    "add_tag": "Adds this tag to the customer (`[a-z0-9_-]`, up to 64).",
    "notify": "Sends the notification template with this key.",
    "set_tier": "Tier documents only: the customer qualifies for this tier.",
}
PARAM_NOTES = (
    "`feeds`: `both` (default), `spendable` or `qualifying` (which balances the points count toward). "
    "`to`: `customer` (default), `referrer` or `both`."
)


def _vocabulary() -> str:
    vocabulary = export_rules_vocabulary()
    variables = sorted(vocabulary["variables"], key=lambda v: v["name"])
    parts = ["## Variables", ""]
    parts.append(
        _table(["variable", "type", "label"], [[f"`{v['name']}`", v["field_type"], v["label"]] for v in variables])
    )
    parts += ["", "## Operators by type", ""]
    for type_name, operators in sorted(vocabulary["variable_type_operators"].items()):
        parts += [f"### {type_name}", ""]
        if type_name in TYPE_NOTES:
            parts += [TYPE_NOTES[type_name], ""]
        rows = [
            [f"`{op['name']}`", op["label"], INPUT_TYPES.get(op["input_type"], op["input_type"])]
            for op in sorted(operators, key=lambda o: o["name"])
        ]
        parts += [_table(["operator", "label", "value"], rows), ""]
    parts += ["## Actions", "", PARAM_NOTES, ""]
    rows = []
    for action in sorted(vocabulary["actions"], key=lambda a: a["name"]):
        params = ", ".join(_param_text(action["name"], p["name"], p["fieldType"]) for p in action["params"])
        rows.append([f"`{action['name']}`", params, ACTION_NOTES.get(action["name"], "")])
    parts += [_table(["action", "params", "what it does"], rows), ""]
    return "\n".join(parts)


def _examples() -> str:
    parts = [
        "## Worked examples",
        "",
        "Each example is also a test: the effects shown are what the engine returns.",
        "",
    ]
    for number, example in enumerate(EXAMPLES, 1):
        parts += [f"### {number}. {example.title}", "", example.story, ""]
        for i, campaign in enumerate(example.campaigns, 1):
            parts += [
                f"Campaign {i}:",
                "",
                "```yaml",
                yaml.safe_dump(campaign, sort_keys=False, width=100).rstrip(),
                "```",
                "",
            ]
        event = ", ".join(f"{key}={value}" for key, value in example.event.items())
        if example.max_points_per_transaction is not None:
            event += f"; programme cap max_points_per_transaction={example.max_points_per_transaction}"
        parts += [f"Event: {event}", ""]
        rows = [
            [
                str(e["campaign"]),
                f"`{e['action']}`",
                str(e["points"]),
                str(e.get("value", "")),
                str(e.get("capped_from", "")),
            ]
            for e in example.expected
        ]
        parts += [_table(["campaign", "action", "points", "value", "capped from"], rows), ""]
        parts += [f"Note: {note}" for note in example.notes]
        if example.notes:
            parts.append("")
    return "\n".join(parts)


def render() -> str:
    """The whole of docs/rules.md."""
    header = (
        "# Campaign rules reference\n\n"
        "Generated by `python -m rules.docs > docs/rules.md` from the rules engine; do not edit by hand.\n"
    )
    fmt = (
        FORMAT.replace("BUDGET_KEYS", ", ".join(f"`{k}`" for k in BUDGET_KEYS))
        .replace("LIMIT_PERIODS", ", ".join(f"`{p}`" for p in LIMIT_PERIODS))
        .replace("EXPIRY_POLICIES", ", ".join(f"`{p}`" for p in EXPIRY_POLICIES))
        .replace("CHALLENGE_PERIODS", ", ".join(f"`{p}`" for p in CHALLENGE_PERIODS))
    )
    bounded = "; ".join(f"`{name}` {low}..{high} ({why})" for name, (low, high, why) in BOUNDED_VARIABLES.items())
    never = NEVER_MATCH.replace("BOUNDED", bounded)
    programme = (
        PROGRAMME.replace("EXPIRED_POINTS_SETTING", f"`{json.dumps(EXPIRED_POINTS_EXAMPLE['setting'])}`")
        .replace("EXPIRED_POINTS_COST", str(EXPIRED_POINTS_EXAMPLE["cost"]))
        .replace("EXPIRED_POINTS_TABLE", _expired_points_table())
    )
    parts = [header, fmt, never, ORDER, programme, _vocabulary(), _examples(), _challenge_examples()]
    return "\n".join(parts).rstrip() + "\n"


def expected_of(example: Example) -> list[Mapping[str, Any]]:
    """What the engine returns for an example, in the shape the example states it."""
    return [summary(effect) for effect in example.run()]


if __name__ == "__main__":
    print(render(), end="")
