"""Who may write: a bearer token, from RECOMMENDER_API_TOKEN or `recommender serve --token-file`.

Reads are open. Write endpoints (articles pushed by a CMS, editors' controls) need
`Authorization: Bearer TOKEN`: a missing or wrong token is 401; with no token configured the write
endpoints are off and answer 403, whatever is sent. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .config import TOKEN_ENV

_bearer = HTTPBearer(auto_error=False, description="the service's write token")


class WriteAccess:
    """A FastAPI dependency that lets a request through only with the configured token."""

    def __init__(self, token: str | None) -> None:
        self.token = token.encode() if token else None

    async def __call__(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> None:
        if self.token is None:
            raise HTTPException(
                403, f"write endpoints are off: start the service with {TOKEN_ENV} or --token-file"
            )
        given = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(given, self.token):
            raise HTTPException(401, "a valid token is needed", headers={"WWW-Authenticate": "Bearer"})
