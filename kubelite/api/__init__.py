"""The Kubernetes API over the store: registry, patching, watch, discovery and the aiohttp server.

Inside this package everything speaks domain exceptions (:mod:`kubelite.errors`
and the Kubernetes-flavoured subclasses of :mod:`kubelite.api.errors`); only
:func:`kubelite.api.errors.to_status`, at the HTTP edge, turns them into ``metav1.Status``.
"""
