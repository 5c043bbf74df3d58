"""Who the app is in Dataverse: the WhoAmI function names the user the app's token acts as (its application
user), whose own writes must never be sent back to Amazon."""

from __future__ import annotations

from shared.dataverse.client import DataverseClient
from shared.dataverse.errors import DataverseError


def who_am_i(client: DataverseClient) -> str:
    """The systemuserid of the app's application user."""
    answer = client.request("GET", "WhoAmI", idempotent=True, what="WhoAmI")
    user_id = answer.body.get("UserId") if isinstance(answer.body, dict) else None
    if not isinstance(user_id, str) or not user_id:
        raise DataverseError("WhoAmI answered without a UserId")
    return user_id.lower()
