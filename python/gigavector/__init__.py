"""gigavector: GigaVector's Python API over PostgreSQL and the gigavector extension.

``Database`` keeps the seed GigaVector API (``Database.open``, ``add_vector``,
``search`` …) and runs it as SQL on a PostgreSQL server: one you name with a
connection string, or a private embedded one the package starts itself.
Underneath sit the driver-independent :class:`Vector` value and the psycopg
adapters (``register_gvector``).
"""

from .vector import Vector
from .psycopg import register_gvector
from .errors import GigaVectorError, GigaVectorWarning
from .database import IVFPQ_MIN_TRAIN_ROWS, Database, DistanceType, IndexType, SearchHit

__all__ = [
    "Database",
    "DistanceType",
    "GigaVectorError",
    "GigaVectorWarning",
    "IndexType",
    "IVFPQ_MIN_TRAIN_ROWS",
    "SearchHit",
    "Vector",
    "register_gvector",
]
