"""The package's exception and warning.

Bad arguments (a wrong dimension, NaN, metadata that is not JSON, an id that
is not an integer ...) are ``ValueError``, as in the seed GigaVector API.
Whatever the server or the environment refuses is a ``GigaVectorError``, a
``RuntimeError`` (the seed's exception for failed operations) that keeps what
the server said: its SQLSTATE, detail and hint.
"""

from __future__ import annotations

import psycopg

__all__ = ["GigaVectorError", "GigaVectorWarning"]


class GigaVectorError(RuntimeError):
    """An operation the server or the environment refused.

    ``str(e)`` is the server's message (or the package's, for errors of the
    environment such as a failed initdb); ``sqlstate``, ``detail`` and
    ``hint`` are the server's fields, None when it sent none.  A server error
    is chained as ``__cause__`` (a ``psycopg.Error``).
    """

    sqlstate: str | None
    detail: str | None
    hint: str | None

    def __init__(self, message: str, *, sqlstate: str | None = None,
                 detail: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint

    @classmethod
    def from_psycopg(cls, error: psycopg.Error, message: str | None = None) -> GigaVectorError:
        """The error for a psycopg error: its primary message (or ``message``)
        and its diagnostic fields."""
        diag = error.diag
        primary = (diag.message_primary or str(error)).strip()
        return cls(message if message is not None else primary, sqlstate=error.sqlstate,
                   detail=diag.message_detail, hint=diag.message_hint)


class GigaVectorWarning(UserWarning):
    """About a collection's vector index: it cannot be created (searches are
    exact scans, still correct), or ``open()`` replaced one of another kind."""
