"""Start the controllers: one shared informer per resource, then every registered controller.

The order matters and is kube-controller-manager's: build every controller
first (each asks the factory for the informers it reads and adds its handlers),
then start the informers and wait for their first list, then start the workers,
so no worker ever syncs from an empty cache and deletes what it merely has not
seen yet. The returned coroutine function stops everything in reverse order.

Which controllers run: ``only`` when given, else the ``KUBELITE_CONTROLLERS``
environment variable read as kube-controller-manager's ``--controllers`` (``*``
every controller, ``name`` one more, ``-name`` one less; unset means ``*``). The
variable reaches ``kubelite server`` without a flag of its own; tests set it to
``-*`` to run a bare API server and drive the controllers in-process instead.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from kubelite.api.client import APIClient
from kubelite.controllers.base import Controller, ControllerContext
from kubelite.controllers.informers import SharedInformers
from kubelite.controllers.options import ControllerOptions
from kubelite.controllers.registry import CONTROLLERS
from kubelite.errors import Invalid

ENV = "KUBELITE_CONTROLLERS"


def enabled_controllers(spec: str | None) -> set[str]:
    """The controller names a ``--controllers``-style list selects (``*``, ``name``, ``-name``, ``-*``)."""
    if spec is None or not spec.strip():
        return set(CONTROLLERS)
    out: set[str] = set()
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name = item.removeprefix("-")
        if name != "*" and name not in CONTROLLERS:
            raise Invalid(f"{ENV}: unknown controller {name!r}; known: {', '.join(sorted(CONTROLLERS))}")
        names = set(CONTROLLERS) if name == "*" else {name}
        if item.startswith("-"):
            out -= names
        else:
            out |= names
    return out


async def start_controllers(client: APIClient, options: ControllerOptions | None = None,
                            only: set[str] | None = None) -> Callable[[], Awaitable[None]]:
    """Start the registered controllers (all, or those named in ``only``); returns ``stop``."""
    if only is not None and (unknown := only - CONTROLLERS.keys()):
        raise Invalid(f"unknown controllers: {', '.join(sorted(unknown))}; known: {', '.join(sorted(CONTROLLERS))}")
    if only is None:
        only = enabled_controllers(os.environ.get(ENV))
    ctx = ControllerContext(client, SharedInformers(client), options or ControllerOptions())
    controllers: list[Controller] = [factory(ctx) for name, factory in CONTROLLERS.items()
                                     if name in only]
    try:
        await ctx.informers.start()
        for c in controllers:
            await c.start()
    except BaseException:
        await _stop(controllers, ctx)
        raise

    async def stop() -> None:
        await _stop(controllers, ctx)

    return stop


async def _stop(controllers: list[Controller], ctx: ControllerContext) -> None:
    for c in reversed(controllers):
        await c.stop()
    await ctx.informers.stop()
