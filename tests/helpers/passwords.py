"""Lighter argon2id parameters for the test process.

argon2-cffi's defaults (64 MiB, 3 passes, 4 lanes) cost 0.2-1.6 s per hash or check on this 2-core machine, and
every staff user a test makes and every sign-in pays it: the UI tests spent most of their time there. The test
process keeps argon2id (stored hashes still start with ``$argon2id$``) with the lightest parameters; subprocesses
(gunicorn, the CLI) keep the production defaults, and hashes from either verify in both.
"""

from __future__ import annotations

from argon2 import PasswordHasher


def use_light_password_hashing() -> None:
    import campaigns.access.users as users

    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    # unknown e-mails keep costing what a known one costs
    users._DUMMY = users._hasher.hash("not a real password, used to spend the same time on unknown accounts")
