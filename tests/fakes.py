"""Fake HTTP transports for unit tests: replay scripted (status, headers, body) answers and record requests."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import BaseAdapter

Answer = tuple[int, dict[str, str], Any] | Exception


class ScriptedAdapter(BaseAdapter):
    """A requests adapter answering from a script; an Exception entry is raised instead of answering."""

    def __init__(self, *answers: Answer, default: Answer | None = None) -> None:
        super().__init__()
        self.answers: deque[Answer] = deque(answers)
        self.default = default
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.requests.append(request)
        answer = self.answers.popleft() if self.answers else self.default
        if answer is None:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        if isinstance(answer, Exception):
            raise answer
        status, headers, body = answer
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        if isinstance(body, bytes):
            response._content = body
        elif body is None:
            response._content = b""
        else:
            response._content = json.dumps(body).encode()
            response.headers.setdefault("Content-Type", "application/json")
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def session_with(adapter: ScriptedAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def no_sleep() -> Callable[[float], None]:
    return RecordingSleep()
