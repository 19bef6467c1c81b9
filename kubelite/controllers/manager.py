"""Start the controllers: one shared informer per resource, then every registered controller.

The order matters and is kube-controller-manager's: build every controller
first (each asks the factory for the informers it reads and adds its handlers),
then start the informers and wait for their first list, then start the workers,
so no worker ever syncs from an empty cache and deletes what it merely has not
seen yet. The returned coroutine function stops everything in reverse order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kubelite.api.client import APIClient
from kubelite.controllers.base import Controller, ControllerContext
from kubelite.controllers.informers import SharedInformers
from kubelite.controllers.options import ControllerOptions
from kubelite.controllers.registry import CONTROLLERS
from kubelite.errors import Invalid


async def start_controllers(client: APIClient, options: ControllerOptions | None = None,
                            only: set[str] | None = None) -> Callable[[], Awaitable[None]]:
    """Start the registered controllers (all, or those named in ``only``); returns ``stop``."""
    if only is not None and (unknown := only - CONTROLLERS.keys()):
        raise Invalid(f"unknown controllers: {', '.join(sorted(unknown))}; known: {', '.join(sorted(CONTROLLERS))}")
    ctx = ControllerContext(client, SharedInformers(client), options or ControllerOptions())
    controllers: list[Controller] = [factory(ctx) for name, factory in CONTROLLERS.items()
                                     if only is None or name in only]
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
