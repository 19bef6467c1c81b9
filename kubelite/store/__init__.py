"""The store layer: a revisioned key-value store with exactly the semantics the API needs.

The contract is :mod:`kubelite.store.contracts`; open a driver with
``await open_store(url)`` (:mod:`kubelite.store.registry`). See docs/store.md.
"""

from kubelite.store.contracts import Event, KeyValue, ListResult, Store, Watch, WatchTooSlow
from kubelite.store.options import StoreOptions
from kubelite.store.registry import open_store

__all__ = ["Event", "KeyValue", "ListResult", "Store", "StoreOptions", "Watch", "WatchTooSlow", "open_store"]
