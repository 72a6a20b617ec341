{{/* The release's name for everything it makes, within Kubernetes' 63 characters. */}}
{{- define "spacecast.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "spacecast.selectorLabels" -}}
app.kubernetes.io/name: spacecast-controller
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "spacecast.labels" -}}
{{ include "spacecast.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: spacecast
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The session pods, as the controller labels them (controller/pod.py). */}}
{{- define "spacecast.sessionSelector" -}}
app.kubernetes.io/name: spacecast-session
app.kubernetes.io/managed-by: spacecast-controller
{{- end -}}

{{- define "spacecast.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* Namespaces that get the sessions' ServiceAccount: the release's, then the listed ones. */}}
{{- define "spacecast.sessionNamespaces" -}}
{{- $all := list .Release.Namespace -}}
{{- range .Values.session.serviceAccount.namespaces -}}
{{- $all = append $all . -}}
{{- end -}}
{{- $all | uniq | join "," -}}
{{- end -}}

{{/* How a session's series get their cast's labels (the PodMonitor; tests/helm reuses them for
a plain Prometheus). Kept apart so there is one copy. */}}
{{- define "spacecast.sessionRelabelings" -}}
- action: keep
  sourceLabels: [__meta_kubernetes_pod_controller_kind]
  regex: SpaceCast
- action: replace
  sourceLabels: [__meta_kubernetes_pod_controller_name]
  targetLabel: spacecast
- action: replace
  sourceLabels: [__meta_kubernetes_namespace]
  targetLabel: namespace
{{- end -}}

{{/* The in-cluster simulator's address (templates/simulator.yaml). */}}
{{- define "spacecast.simulatorUrl" -}}
{{- printf "http://%s-simulator:8080" (include "spacecast.fullname" .) -}}
{{- end -}}

{{/* The sessions' extra variables as JSON: session.env, and with the in-cluster simulator on,
X's addresses pointing at it (a trial: every cast then talks to the simulator, never to X). */}}
{{- define "spacecast.sessionEnv" -}}
{{- $env := deepCopy .Values.session.env -}}
{{- if .Values.simulator.enabled -}}
{{- $_ := set $env "SPACECAST_X_BASE_URL" (include "spacecast.simulatorUrl" .) -}}
{{- $_ := set $env "SPACECAST_X_API_BASE_URL" (include "spacecast.simulatorUrl" .) -}}
{{- end -}}
{{- $env | toJson -}}
{{- end -}}
