"""gigavector: GigaVector's Python API over PostgreSQL and the gigavector extension.

This first version carries the wire-format layer every later part builds on:
the driver-independent :class:`Vector` value and the psycopg adapters.
"""

from .vector import Vector
from .psycopg import register_gvector

__all__ = ["Vector", "register_gvector"]
