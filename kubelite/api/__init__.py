"""The Kubernetes API over the store: registry, patching, watch, discovery and the aiohttp server.

Inside this package everything speaks domain exceptions (:mod:`kubelite.errors`
and the Kubernetes-flavoured subclasses of :mod:`kubelite.api.errors`); only
:mod:`kubelite.api.http` turns them into ``metav1.Status`` responses.
"""
