{{/*
Labels of every object: the chart's standard ones. The pod template and the
selectors use rollgate.selectorLabels only, as the kustomize installer does.
*/}}
{{- define "rollgate.labels" -}}
app.kubernetes.io/name: rollgate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The labels of the manager's pods, its Deployment's selector. */}}
{{- define "rollgate.selectorLabels" -}}
control-plane: controller-manager
app.kubernetes.io/name: rollgate
{{- end }}

{{/* Labels of the manager's own objects: the standard ones and control-plane. */}}
{{- define "rollgate.managerLabels" -}}
control-plane: controller-manager
{{ include "rollgate.labels" . }}
{{- end }}

{{/* The manager's image reference. */}}
{{- define "rollgate.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end }}

{{/* Whether cert-manager provides the webhook certificate. */}}
{{- define "rollgate.certManager" -}}
{{- if and .Values.webhooks.enabled (eq .Values.certificates.provider "cert-manager") }}true{{ end -}}
{{- end }}

{{/* The default credentials Secret's namespace. */}}
{{- define "rollgate.credentialsNamespace" -}}
{{ .Values.defaultCredentials.namespace | default .Release.Namespace }}
{{- end }}

{{/* The webhooks' clientConfig and the fields both webhooks share. */}}
{{- define "rollgate.webhookCommon" -}}
admissionReviewVersions:
- v1
{{- if not (has .root.Values.webhooks.failurePolicy (list "Fail" "Ignore")) }}
{{- fail (printf "webhooks.failurePolicy must be Fail or Ignore, not %q" (toString .root.Values.webhooks.failurePolicy)) }}
{{- end }}
failurePolicy: {{ .root.Values.webhooks.failurePolicy }}
{{- with .root.Values.webhooks.matchConditions }}
matchConditions:
{{- toYaml . | nindent 0 }}
{{- end }}
{{- with .root.Values.webhooks.namespaceSelector }}
namespaceSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.webhooks.objectSelector }}
objectSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
clientConfig:
  service:
    name: rollgate-webhook-service
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
sideEffects: None
timeoutSeconds: {{ .root.Values.webhooks.timeoutSeconds }}
{{- end }}

{{/* The cert-manager annotation that injects the CA into a webhook configuration. */}}
{{- define "rollgate.injectCA" -}}
{{- if include "rollgate.certManager" . }}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/rollgate-serving-cert
{{- end }}
{{- end }}
