"""Coalition clearing: who funds every point, who is reimbursed for every redemption, statements that balance.

``funding``: splitting an earning between its funders (largest remainder);
``rates``: dated issue costs and redemption rates per provider;
``statements``: per-period statements and the liability roll-forward, as
queries over the ledger, point lots and lot consumptions; ``periods``:
closing a month and storing its statements; ``checks``: the money invariants
of ``flask ledger check``.
"""

PROGRAMME = 0
"""The funder id of the programme itself (provider ids start at 1)."""
