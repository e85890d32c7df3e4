"""Deployment settings, read from the environment once; shared by web, workers and CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SQLITE = Path(os.getcwd()) / "instance" / "loyalty.sqlite3"
DEFAULT_IMPORT_DIR = Path(os.getcwd()) / "instance" / "imports"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _flag(name: str) -> bool:
    return (os.environ.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: str
    partitions: int = 8
    batch_size: int = 500
    sweep_after_seconds: int = 60
    sweep_interval_seconds: int = 15
    max_future_skew_seconds: int = 300
    max_body_bytes: int = 4 * 1024 * 1024
    db_pool_size: int = 10
    # a connection idle inside a transaction this long loses it (and its row locks): a host cut off mid-transaction
    db_idle_transaction_seconds: int = 30
    # how long a worker's crediting transaction waits on a row lock before it leaves its batch for later
    credit_lock_wait_seconds: int = 10
    # heavy reads (dashboards, analytics, reports, replays, exports) from a MariaDB replica (docs/scaling.md)
    database_replica_url: str | None = None
    replica_max_lag_seconds: int = 30
    replica_notice_seconds: int = 5
    log_level: str = "INFO"
    session_hours: float = 8
    care_adjustment_limit: int = 1000
    require_approval: bool = False
    secure_cookies: bool = False
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    gateway_secret: str | None = None
    import_dir: str = str(DEFAULT_IMPORT_DIR)
    max_import_bytes: int = 20 * 1024**3
    import_inline_bytes: int = 256 * 1024
    import_chunk_rows: int = 2000
    api_rate_per_key: int = 60_000
    api_rate_per_ip: int = 120_000
    login_rate_per_ip: int = 60
    proxy_count: int = 0
    log_sql: bool = False
    care_monitor_seconds: int = 60
    worker_max_memory_mb: int = 1024
    # staff sign-in through the organisation's directory (docs/sso.md)
    local_login: bool = True
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_role_claim: str = "groups"
    oidc_group_map: str | None = None
    oidc_name: str | None = None
    oidc_clock_skew_seconds: int = 60
    ldap_url: str | None = None
    ldap_bind_dn: str | None = None
    ldap_search_base: str | None = None
    ldap_search_filter: str = "(|(uid={username})(mail={username})(sAMAccountName={username}))"
    ldap_service_dn: str | None = None
    ldap_service_password: str | None = None
    ldap_group_base: str | None = None
    ldap_group_filter: str = "(|(member={dn})(uniqueMember={dn}))"
    ldap_starttls: bool = False
    ldap_ca_file: str | None = None
    ldap_group_map: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """SQLite and an in-process queue: a first look on a bare laptop, not production."""
        return self.redis_url is None

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def ldap_enabled(self) -> bool:
        return bool(self.ldap_url)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": os.environ.get("LOYALTY_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE}",
            "redis_url": os.environ.get("REDIS_URL") or None,
            "secret_key": os.environ.get("SECRET_KEY") or "dev-only-not-secret",
            "partitions": _int("LOYALTY_PARTITIONS", 8),
            "batch_size": _int("LOYALTY_BATCH_SIZE", 500),
            "sweep_after_seconds": _int("LOYALTY_SWEEP_AFTER_SECONDS", 60),
            "sweep_interval_seconds": _int("LOYALTY_SWEEP_INTERVAL_SECONDS", 15),
            "max_future_skew_seconds": _int("LOYALTY_MAX_FUTURE_SKEW_SECONDS", 300),
            "max_body_bytes": _int("LOYALTY_MAX_BODY_BYTES", 4 * 1024 * 1024),
            "db_pool_size": _int("LOYALTY_DB_POOL_SIZE", 10),
            "db_idle_transaction_seconds": _int("LOYALTY_DB_IDLE_TRANSACTION_SECONDS", 30),
            "credit_lock_wait_seconds": _int("LOYALTY_CREDIT_LOCK_WAIT_SECONDS", 10),
            "database_replica_url": os.environ.get("LOYALTY_DATABASE_REPLICA_URL") or None,
            "replica_max_lag_seconds": _int("LOYALTY_REPLICA_MAX_LAG_SECONDS", 30),
            "replica_notice_seconds": _int("LOYALTY_REPLICA_NOTICE_SECONDS", 5),
            "log_level": os.environ.get("LOYALTY_LOG_LEVEL", "INFO"),
            "session_hours": float(os.environ.get("LOYALTY_SESSION_HOURS") or 8),
            "care_adjustment_limit": _int("LOYALTY_CARE_ADJUSTMENT_LIMIT", 1000),
            "require_approval": _flag("LOYALTY_REQUIRE_APPROVAL"),
            "secure_cookies": _flag("LOYALTY_SECURE_COOKIES"),
            "sms_gateway_url": os.environ.get("LOYALTY_SMS_GATEWAY_URL") or None,
            "sms_gateway_token": os.environ.get("LOYALTY_SMS_GATEWAY_TOKEN") or None,
            "gateway_secret": os.environ.get("LOYALTY_GATEWAY_SECRET") or None,
            "import_dir": os.environ.get("LOYALTY_IMPORT_DIR") or str(DEFAULT_IMPORT_DIR),
            "max_import_bytes": _int("LOYALTY_MAX_IMPORT_BYTES", 20 * 1024**3),
            "import_inline_bytes": _int("LOYALTY_IMPORT_INLINE_BYTES", 256 * 1024),
            "import_chunk_rows": _int("LOYALTY_IMPORT_CHUNK_ROWS", 2000),
            "api_rate_per_key": _int("LOYALTY_API_RATE_PER_KEY", 60_000),
            "api_rate_per_ip": _int("LOYALTY_API_RATE_PER_IP", 120_000),
            "login_rate_per_ip": _int("LOYALTY_LOGIN_RATE_PER_IP", 60),
            "proxy_count": _int("LOYALTY_PROXY_COUNT", 0),
            "log_sql": _flag("LOYALTY_LOG_SQL"),
            "care_monitor_seconds": _int("LOYALTY_CARE_MONITOR_SECONDS", 60),
            "worker_max_memory_mb": _int("LOYALTY_WORKER_MAX_MEMORY_MB", 1024),
            "local_login": (os.environ.get("LOYALTY_LOCAL_LOGIN") or "1").strip().lower() not in ("0", "false", "off"),
            "oidc_issuer": (os.environ.get("LOYALTY_OIDC_ISSUER") or "").rstrip("/") or None,
            "oidc_client_id": os.environ.get("LOYALTY_OIDC_CLIENT_ID") or None,
            "oidc_client_secret": os.environ.get("LOYALTY_OIDC_CLIENT_SECRET") or None,
            "oidc_role_claim": os.environ.get("LOYALTY_OIDC_ROLE_CLAIM") or "groups",
            "oidc_group_map": os.environ.get("LOYALTY_OIDC_GROUP_MAP") or None,
            "oidc_name": os.environ.get("LOYALTY_OIDC_NAME") or None,
            "oidc_clock_skew_seconds": _int("LOYALTY_OIDC_CLOCK_SKEW_SECONDS", 60),
            "ldap_url": os.environ.get("LOYALTY_LDAP_URL") or None,
            "ldap_bind_dn": os.environ.get("LOYALTY_LDAP_BIND_DN") or None,
            "ldap_search_base": os.environ.get("LOYALTY_LDAP_SEARCH_BASE") or None,
            "ldap_search_filter": os.environ.get("LOYALTY_LDAP_SEARCH_FILTER")
            or "(|(uid={username})(mail={username})(sAMAccountName={username}))",
            "ldap_service_dn": os.environ.get("LOYALTY_LDAP_SERVICE_DN") or None,
            "ldap_service_password": os.environ.get("LOYALTY_LDAP_SERVICE_PASSWORD") or None,
            "ldap_group_base": os.environ.get("LOYALTY_LDAP_GROUP_BASE") or None,
            "ldap_group_filter": os.environ.get("LOYALTY_LDAP_GROUP_FILTER") or "(|(member={dn})(uniqueMember={dn}))",
            "ldap_starttls": _flag("LOYALTY_LDAP_STARTTLS"),
            "ldap_ca_file": os.environ.get("LOYALTY_LDAP_CA_FILE") or None,
            "ldap_group_map": os.environ.get("LOYALTY_LDAP_GROUP_MAP") or None,
        }
        values.update(overrides)
        return cls(**values)

    def engine_options(self, *, lock_wait_seconds: int = 0) -> dict[str, Any]:
        """READ COMMITTED on MariaDB: a request that lost an insert race must *see* the winner.

        Every MariaDB connection also gets ``idle_transaction_timeout`` (``db_idle_transaction_seconds``; 0 leaves
        the server's): a client that stops talking inside a transaction (a host cut off from the network) loses
        it, and its row locks, after that long instead of the server's ``wait_timeout`` (8 hours). A positive
        ``lock_wait_seconds`` sets ``innodb_lock_wait_timeout`` too (the workers' crediting engine).
        """
        if self.database_url.startswith("sqlite"):
            return {"connect_args": {"timeout": 30, "check_same_thread": False}}
        connect_args: dict[str, Any] = {"connect_timeout": 5, "read_timeout": 60, "write_timeout": 60}
        session = [
            f"{name} = {int(seconds)}"
            for name, seconds in (
                ("idle_transaction_timeout", self.db_idle_transaction_seconds),
                ("innodb_lock_wait_timeout", lock_wait_seconds),
            )
            if seconds > 0
        ]
        if session:  # run by the driver as the connection opens, before anything else uses it
            connect_args["init_command"] = "SET SESSION " + ", ".join(session)
        return {
            "isolation_level": "READ COMMITTED",
            # no ``pool_pre_ping``: a connection idle for more than a second is pinged at checkout
            # (campaigns.db._ping_if_idle), one in steady use is not
            # SQLAlchemy's Connection ends every transaction it began before it returns the connection; the pool's
            # own ROLLBACK after each COMMIT was one more round trip per request and per credited batch.
            "pool_reset_on_return": None,
            "pool_recycle": 1800,
            "pool_size": self.db_pool_size,
            "max_overflow": self.db_pool_size,
            "connect_args": connect_args,
        }
