"""Scale-out: embed large file lists on a Dask cluster into a lazily read on-disk store.

Dask is imported only when :func:`embed_distributed` runs (``pip install
'skaloe[dask]'``); :func:`open_store` and :func:`store_info` need numpy only.
"""

from ._embed import ShardError, embed_distributed
from ._store import open_store, store_info

__all__ = ["ShardError", "embed_distributed", "open_store", "store_info"]
