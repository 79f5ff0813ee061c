"""The e2e suite's seams: settings, a `Cluster` (the Kubernetes side) and a `ControlPlane` (the NoETL side).

The assertions in e2e/tests talk only to these two interfaces, so the same suite runs against kind, any
cluster reachable by kubeconfig, or a backend where worker "pods" are local processes.
"""
