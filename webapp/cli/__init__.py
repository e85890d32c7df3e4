"""Flask CLI: ``flask --app wsgi GROUP ...`` for providers, staff-token, users, campaigns, demo, ledger, rewards,
settings, tiers, notify, phones, transactions, customers (import, erase), imports and settlement; ``worker``,
``sweep`` and ``lifecycle``. One module per command group."""

from __future__ import annotations

from flask import Flask

from .campaigns import campaigns_cli
from .demo import demo_cli
from .imports import customers_cli, imports_cli, transactions_cli
from .ledger import ledger_cli
from .notify import notify_cli
from .phones import phones_cli
from .privacy import customers_erase  # noqa: F401  (adds ``customers erase`` to its group)
from .providers import providers_cli
from .rewards import rewards_cli
from .settings import settings_cli
from .settlement import settlement_cli
from .staff_token import staff_cli
from .tiers import lifecycle_command, tiers_cli
from .users import users_cli
from .worker import sweep_command, worker_command


def register_cli(app: Flask) -> None:
    app.cli.add_command(lifecycle_command)
    for group in (
        providers_cli,
        staff_cli,
        campaigns_cli,
        demo_cli,
        ledger_cli,
        rewards_cli,
        settings_cli,
        tiers_cli,
        users_cli,
        notify_cli,
        phones_cli,
        settlement_cli,
        transactions_cli,
        customers_cli,
        imports_cli,
    ):
        app.cli.add_command(group)
    app.cli.add_command(worker_command)
    app.cli.add_command(sweep_command)
