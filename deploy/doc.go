// Package deploy holds what ari-proxy is deployed with (a systemd unit, a
// Dockerfile, Kubernetes manifests, a Grafana dashboard) and, in its
// tests, the checks that can be made of them without a container
// registry: the Dockerfile's build line gives a static binary, the unit
// passes systemd-analyze verify, the manifests parse and probe paths the
// server serves. docs/operations.md explains them.
package deploy
