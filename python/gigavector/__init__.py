"""gigavector: GigaVector's Python API over PostgreSQL and the gigavector extension.

``Database`` keeps the seed GigaVector API (``Database.open``, ``add_vector``,
``search`` …) and runs it as SQL on a PostgreSQL server: one you name with a
connection string, or a private embedded one the package starts itself.
``BM25Index`` (with ``BM25Config``) is BM25 full-text search on the same
servers, with the gv_bm25 access method.  ``TTLManager`` (with ``TTLConfig``)
makes vectors expire.  ``NamespaceManager`` keeps tenants apart in schemas
with roles of their own; ``Server`` is the REST server, with ``AuthManager``
mapping API keys and JWTs to PostgreSQL roles.  ``GPUIndex`` (with ``GPUConfig``)
is exact search on the server's GPU search worker (its CPU backend without a GPU).
Underneath sit the driver-independent :class:`Vector` value and the psycopg
adapters (``register_gvector``; ``HalfVector``, ``BitVector``, ``SparseVector`` with
``register_ghalfvec``, ``register_gbit``, ``register_gsparsevec``, or ``register_types`` for all).
"""

from .vector import Vector
from .psycopg import (register_gbit, register_ghalfvec, register_gsparsevec, register_gvector,
                      register_types)
from .wiretypes import BitVector, HalfVector, SparseVector
from .errors import GigaVectorError, GigaVectorWarning
from .database import (IVFPQ_MIN_TRAIN_ROWS, Database, DistanceType, IndexType, SearchHit, TextHit,
                       acting_role)
from .bm25 import BM25Config, BM25Index, BM25Result
from .ttl import TTLConfig, TTLManager, TTLStats
from .hybrid import FusionType, HybridConfig, HybridResult, HybridSearcher
from .backup import (BackupCheck, BackupCompression, BackupHeader, BackupOptions, BackupResult,
                     RestoreOptions, backup_check, backup_create, backup_read_header, backup_restore,
                     backup_verify)
from .namespaces import Namespace, NamespaceConfig, NamespaceInfo, NamespaceManager
from .auth import ApiKeyInfo, AuthConfig, AuthManager, AuthResult, AuthType, Identity
from .server import Server, ServerConfig
from .cluster import Cluster, Member, ReplicaInfo, ReplicationManager, ShardInfo, ShardManager
from .gpu import (GPUConfig, GPUDeviceInfo, GPUHit, GPUIndex, gpu_available, gpu_device_count,
                  gpu_get_device_info)

__all__ = [
    "ApiKeyInfo",
    "AuthConfig",
    "AuthManager",
    "AuthResult",
    "AuthType",
    "Identity",
    "Namespace",
    "NamespaceConfig",
    "NamespaceInfo",
    "NamespaceManager",
    "Server",
    "ServerConfig",
    "Cluster",
    "Member",
    "ReplicaInfo",
    "ReplicationManager",
    "ShardInfo",
    "ShardManager",
    "GPUConfig",
    "GPUDeviceInfo",
    "GPUHit",
    "GPUIndex",
    "gpu_available",
    "gpu_device_count",
    "gpu_get_device_info",
    "BackupCheck",
    "BackupCompression",
    "BackupHeader",
    "BackupOptions",
    "BackupResult",
    "BM25Config",
    "BM25Index",
    "BM25Result",
    "Database",
    "FusionType",
    "HybridConfig",
    "HybridResult",
    "HybridSearcher",
    "DistanceType",
    "GigaVectorError",
    "GigaVectorWarning",
    "IndexType",
    "IVFPQ_MIN_TRAIN_ROWS",
    "SearchHit",
    "TextHit",
    "TTLConfig",
    "TTLManager",
    "TTLStats",
    "RestoreOptions",
    "Vector",
    "backup_check",
    "backup_create",
    "backup_read_header",
    "backup_restore",
    "backup_verify",
    "acting_role",
    "register_gvector",
    "register_ghalfvec",
    "register_gbit",
    "register_gsparsevec",
    "register_types",
    "HalfVector",
    "BitVector",
    "SparseVector",
]
