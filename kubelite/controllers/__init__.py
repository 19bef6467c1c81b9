"""Controllers: reconcilers on informers and work queues (kube-controller-manager's job)."""
