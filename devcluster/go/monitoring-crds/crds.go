// Package crds holds nothing but the import that pins prometheus-operator's API types: the
// ServiceMonitor, PodMonitor and PrometheusRule CRDs are generated from them by controller-gen
// (devcluster/build.sh), so the chart's monitoring objects are checked against the real schema.
package crds

import _ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
