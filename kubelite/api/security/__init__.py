"""Security of the API server: PKI, authentication, authorization, kubeconfig, encryption at rest.

Every module here is usable on its own and knows nothing about the store or the
resource registry; the server wires them together:

- :mod:`.pki` makes the cluster CA and the serving certificate, and issues client certificates;
- :mod:`.tokens` keeps the static bearer-token file;
- :mod:`.authn` turns a request's credentials into a :class:`~.authn.UserInfo` (aiohttp middleware);
- :mod:`.requestinfo` turns a URL and method into Kubernetes' request attributes;
- :mod:`.authz` decides whether a user may do what the attributes say (aiohttp middleware);
- :mod:`.kubeconfig` writes the admin kubeconfig kubectl uses as is;
- :mod:`.encryption` encrypts Secrets at rest with AES-GCM.
"""
