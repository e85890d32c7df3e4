"""Shared test helpers, one module per purpose; ``tests/conftest.py`` holds only the fixtures built from them.

- ``services``: where the test MariaDB and Redis are, and the settings every test app starts from
- ``database``: the per-test reset (only the tables a test touched) and the ledger check every test ends with
- ``factories``: providers with API keys, staff users
- ``api``: request bodies and calls through the public API, and the burst RQ worker
- ``documents``: campaign documents several tests publish
- ``web``: the staff UI's CSRF token and sign-in
- ``passwords``: lighter argon2id parameters for the test process (hashing was most of the UI tests' time)
"""
