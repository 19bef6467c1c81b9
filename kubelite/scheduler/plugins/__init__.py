"""The in-tree plugins, one module each, named as kube-scheduler names them."""
