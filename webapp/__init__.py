"""Flask application factory: one blueprint per audience, services from ``campaigns``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

import campaigns.db  # noqa: F401  (registers the SQLite pragmas)
from campaigns import logctx
from campaigns.settings import Settings
from workers.inline import InlineDispatcher
from workers.queues import RedisDispatcher
from workers.runtime import Runtime

from .api.util import LoyaltyJSONProvider
from .extensions import csrf, db, install, migrate

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: Settings | None = None, **config: Any) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=settings.engine_options(),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
        LOYALTY=settings,
    )
    from .security import session_config

    app.config.update(session_config(settings))
    app.config.update(config)
    app.json = LoyaltyJSONProvider(app)
    logctx.configure(settings.log_level, os.environ.get("LOYALTY_LOG_FORMAT", "text"))
    # SQL echo would copy stored rows (webhook signing secrets, phones) into the log even at INFO: off unless
    # asked for by name (LOYALTY_LOG_SQL=1), whatever the general level.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO if settings.log_sql else logging.WARNING)
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    if settings.proxy_count > 0:  # behind N trusted proxies: client IP, scheme (HTTPS -> HSTS) and host from them
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))

    with app.app_context():
        rt = Runtime.from_settings(settings, db.engine)
    install(app, rt, RedisDispatcher(rt.redis, settings.partitions) if rt.redis else InlineDispatcher(rt))

    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .care import bp as care_bp
    from .channels import bp as channels_bp
    from .cli import register_cli
    from .errors import register_error_handlers
    from .i18n import init_i18n
    from .observability import init_observability
    from .portal import bp as portal_bp
    from .replica import init_replica
    from .security import init_security

    csrf.init_app(app)
    csrf.exempt(api_bp)  # the JSON API authenticates every request with a bearer key, never a cookie
    csrf.exempt(channels_bp)  # gateways authenticate with a shared secret header
    init_security(app)
    init_i18n(app)
    init_replica(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(channels_bp)
    app.register_blueprint(portal_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(care_bp)
    register_error_handlers(app)
    register_cli(app)
    init_observability(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
