"""Opening a store from one URL: the driver is chosen by the URL's scheme.

``sqlite:///abs/path/state.db`` (the embedded default), ``etcd://h1:2379,h2:2379``
and ``etcd+https://...`` (TLS; ``?ca=&cert=&key=`` name the PEM files). Every
scheme also takes the :class:`~kubelite.store.options.StoreOptions` knobs as
query parameters. Drivers register an opener here, so the API server and the
CLI never import a driver module themselves.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from kubelite.errors import Invalid
from kubelite.store.contracts import Store
from kubelite.store.options import StoreOptions

Opener = Callable[[str, str, StoreOptions], Awaitable[Store]]  # (scheme, rest of the URL, options)
_DRIVERS: dict[str, Opener] = {}


def register(scheme: str, opener: Opener) -> None:
    _DRIVERS[scheme] = opener


async def open_store(url: str, options: StoreOptions | None = None) -> Store:
    """Open the store ``url`` names; ``options`` (if given) replace those in the query string."""
    parts = urlsplit(url)
    opener = _DRIVERS.get(parts.scheme)
    if opener is None:
        raise Invalid(f"unknown datastore {url!r}: use one of {', '.join(f'{s}://' for s in sorted(_DRIVERS))}")
    opts = options or StoreOptions.from_query(parse_qs(parts.query, keep_blank_values=True))
    rest = parts.netloc + parts.path
    return await opener(parts.scheme, rest, opts)


async def _open_sqlite(scheme: str, rest: str, opts: StoreOptions) -> Store:
    from kubelite.store.sqlite import SqliteStore

    if not rest.startswith("/") or rest.endswith("/"):
        raise Invalid(f"sqlite datastore wants an absolute file path: sqlite:///path/to/state.db, not {rest!r}")
    return await SqliteStore.open(Path(rest), opts)


def _ssl_context(opts: StoreOptions) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=opts.ca or None)
    if opts.cert:
        ctx.load_cert_chain(opts.cert, opts.key or None)
    return ctx


async def _open_etcd(scheme: str, rest: str, opts: StoreOptions) -> Store:
    from kubelite.store.etcd import EtcdStore

    hosts = [h for h in rest.rstrip("/").split(",") if h]
    if not hosts or any("/" in h or ":" not in h for h in hosts):
        raise Invalid(f"etcd datastore wants host:port endpoints: etcd://host:port[,host:port...], not {rest!r}")
    tls = scheme == "etcd+https"
    endpoints = [("https://" if tls else "http://") + h for h in hosts]
    return await EtcdStore.open(endpoints, opts, _ssl_context(opts) if tls else None)


register("sqlite", _open_sqlite)
register("etcd", _open_etcd)
register("etcd+http", _open_etcd)
register("etcd+https", _open_etcd)
