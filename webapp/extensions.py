"""Flask extensions, created unbound and initialised by the app factory."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from campaigns.models import Base

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()


def db_session() -> Session:
    """The current request's (or CLI command's) Session itself, the type the services take.

    ``db.session`` is Flask-SQLAlchemy's ``scoped_session`` proxy, which forwards to this same object; handing the
    services the object rather than the proxy lets mypy check every call against ``Session``.
    """
    return db.session()


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
