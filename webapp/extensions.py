"""Flask extensions, created unbound and initialised by the app factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from campaigns.models import Base
from workers.inline import InlineDispatcher

if TYPE_CHECKING:
    from redis import Redis

    from campaigns.settings import Settings
    from workers.queues import RedisDispatcher
    from workers.runtime import Runtime

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()


def db_session() -> Session:
    """The current request's (or CLI command's) Session itself, the type the services take.

    ``db.session`` is Flask-SQLAlchemy's ``scoped_session`` proxy, which forwards to this same object; handing the
    services the object rather than the proxy lets mypy check every call against ``Session``.
    """
    return db.session()


# What the app factory builds once per app; read through the accessors below, never by key.
_RUNTIME = "loyalty.runtime"
_DISPATCHER = "loyalty.dispatcher"


def install(app: Flask, rt: Runtime, dispatcher: RedisDispatcher | InlineDispatcher) -> None:
    app.extensions[_RUNTIME] = rt
    app.extensions[_DISPATCHER] = dispatcher


def runtime() -> Runtime:
    """The current app's worker runtime (session factory, Redis, rule cache, gateways)."""
    rt: Runtime = current_app.extensions[_RUNTIME]
    return rt


def dispatcher() -> RedisDispatcher | InlineDispatcher:
    """Where committed transactions and notifications go: the RQ partitions, or the embedded queue without Redis."""
    d: RedisDispatcher | InlineDispatcher = current_app.extensions[_DISPATCHER]
    return d


def embedded_queue() -> InlineDispatcher:
    """The in-process queue, which exists only when no Redis is configured (callers check ``runtime().redis``)."""
    queue = dispatcher()
    if not isinstance(queue, InlineDispatcher):
        raise RuntimeError("the embedded queue runs only without Redis")
    return queue


def redis() -> Redis | None:
    return runtime().redis


def settings() -> Settings:
    conf: Settings = current_app.config["LOYALTY"]
    return conf


def announce_publication() -> None:
    """After a commit that published campaigns or changed settings: every worker reloads them."""
    dispatcher().announce_publication(db_session())


def recreate_schema() -> None:
    """Drop every table of the bound MariaDB database and migrate from nothing (tests and benchmarks only).

    Drops what ``SHOW TABLES`` lists, not what the models know, so tables of an older or newer schema go too.
    Runs inside an application context.
    """
    from flask_migrate import upgrade
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for (name,) in conn.execute(text("SHOW TABLES")).all():
            conn.execute(text(f"DROP TABLE `{name}`"))
        conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    upgrade()
