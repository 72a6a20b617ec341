#!/usr/bin/env bash
# For people with Docker: kind-config.yaml's cluster with spacecast in trial mode. It builds the
# three images and loads them into kind, installs prometheus-operator with Prometheus and Grafana
# (kube-prometheus-stack), installs the chart with its monitoring and the in-cluster simulator,
# applies examples/trial.yaml (a SpaceCast of the simulator's Space) and waits for it to go Live.
# Needs docker, kind, helm and kubectl on PATH. Not run by the test suite (no Docker here);
# kind-config.yaml itself is checked there, by kind's own types.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in docker kind helm kubectl; do
  command -v "$tool" >/dev/null || { echo "kind-up: needs $tool on PATH" >&2; exit 1; }
done

kind get clusters | grep -qx spacecast || kind create cluster --config kind-config.yaml
for name in session controller simulator; do
  dockerfile=$([[ $name == session ]] && echo session_image/Dockerfile || echo "$name/Dockerfile")
  docker build -f "$dockerfile" -t "spacecast/$name:dev" .
  kind load docker-image --name spacecast "spacecast/$name:dev"
done

helm repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null
helm upgrade --install monitoring prometheus-community/kube-prometheus-stack \
  --namespace monitoring --create-namespace --wait
helm upgrade --install spacecast helm/spacecast --namespace casts --create-namespace --wait \
  --set image.repository=spacecast/controller --set image.tag=dev --set image.pullPolicy=Never \
  --set session.image=spacecast/session:dev \
  --set simulator.enabled=true --set simulator.image=spacecast/simulator:dev \
  --set simulator.pullPolicy=Never \
  --set monitoring.serviceMonitor.enabled=true --set monitoring.podMonitor.enabled=true \
  --set monitoring.prometheusRule.enabled=true --set monitoring.dashboard.enabled=true \
  --set monitoring.labels.release=monitoring

kubectl --namespace casts apply -f examples/trial.yaml
kubectl --namespace casts wait --for=condition=Ready spacecast/trial --timeout=300s
kubectl --namespace casts get spacecasts
echo "Grafana: kubectl -n monitoring port-forward svc/monitoring-grafana 3000:80 (dashboard: spacecast)"
