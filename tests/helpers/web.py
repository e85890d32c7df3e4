"""The staff UI's CSRF token and sign-in, through the real login form."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from tests.helpers.factories import PASSWORD


class EnglishClient(FlaskClient):
    """A browser that asks for English (Accept-Language): the pages nobody is signed in to yet, such as the
    staff sign-in, answer in English to the tests that assert English text; a signed-in user's own language
    (``make_user``'s ``language``) and the programme default decide the rest."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base.setdefault("HTTP_ACCEPT_LANGUAGE", "en")


def csrf_token(client: FlaskClient, path: str = "/auth/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    token = csrf_token(client)
    return client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token})
