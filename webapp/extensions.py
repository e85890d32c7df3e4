"""Flask extensions, created unbound and initialised by the app factory."""

from __future__ import annotations

from flask import current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from campaigns.models import Base

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()


def announce_publication() -> None:
    """After a commit that published campaigns or changed settings: every worker reloads them."""
    current_app.extensions["loyalty.dispatcher"].announce_publication(db.session)


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
