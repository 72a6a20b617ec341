"""A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok) for spacecast's tests and for local development.

Binaries are built from source by devcluster/build.sh into a cache outside the repo;
`devcluster.cluster.ControlPlane` runs them, `devcluster.pytest_plugin` exposes them as
fixtures and `spacecast dev-cluster` runs them for people.
"""
