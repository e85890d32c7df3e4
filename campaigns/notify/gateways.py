"""Pluggable SMS gateway adapters: a logging one by default, an HTTP one configured by URL.

An adapter's ``send`` returns the gateway's message id or raises
:class:`GatewayError`; ``retryable`` tells the sender to try again later
(network errors, 5xx, 429) or to give up (other 4xx).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class GatewayError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class SentMessage:
    to: str
    text: str
    ref: str


class SmsGateway(Protocol):
    def send(self, to: str, text: str, *, ref: str) -> str | None: ...


class LoggingGateway:
    """Writes each message to the log and keeps the last ones in memory (demo, tests)."""

    sent: deque[SentMessage] = deque(maxlen=1000)
    _lock = threading.Lock()

    def send(self, to: str, text: str, *, ref: str) -> str | None:
        log.info("SMS to %s [%s]: %s", to, ref, text)
        with self._lock:
            LoggingGateway.sent.append(SentMessage(to, text, ref))
        return ref

    @classmethod
    def last_to(cls, phone: str) -> SentMessage | None:
        with cls._lock:
            for message in reversed(cls.sent):
                if message.to == phone:
                    return message
        return None


class HttpGateway:
    """``POST {url}`` with ``{"to", "text", "ref"}`` as JSON; any 2xx is accepted.

    ``ref`` (``outbox-<id>``) is stable across retries, so a gateway can drop a
    duplicate after a timeout that hid a success.
    """

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 10.0) -> None:
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, to: str, text: str, *, ref: str) -> str | None:
        headers = {"Content-Type": "application/json", "Idempotency-Key": ref}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"to": to, "text": text, "ref": ref}).encode()
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                raw = resp.read(65536)
        except urllib.error.HTTPError as exc:
            retryable = exc.code >= 500 or exc.code in (408, 429)
            raise GatewayError(f"gateway answered {exc.code}", retryable=retryable) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise GatewayError(f"gateway unreachable: {exc}", retryable=True) from None
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return None
        return str(data.get("id")) if isinstance(data, dict) and data.get("id") is not None else None


def from_url(url: str | None, token: str | None = None) -> SmsGateway:
    return HttpGateway(url, token=token) if url else LoggingGateway()
