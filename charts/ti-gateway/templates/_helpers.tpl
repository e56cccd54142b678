{{/* Names and labels. */}}
{{- define "tigw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tigw.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tigw.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "gateway") */}}
{{- define "tigw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tigw.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{- define "tigw.labels" -}}
{{ include "tigw.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Values.image.tag | default .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: ti-gateway
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ include "tigw.chart" .ctx }}
{{- end -}}

{{/* TIGW_<NAME> prefix of a service's variables: card-terminal -> TIGW_CARD_TERMINAL */}}
{{- define "tigw.envPrefix" -}}
{{- printf "TIGW_%s" (. | upper | replace "-" "_") -}}
{{- end -}}

{{- define "tigw.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "tigw.fullname" .)) -}}
{{- end -}}

{{- define "tigw.vendorKeysSecretName" -}}
{{- .Values.vendorKeys.existingSecret | default (printf "%s-vendor-keys" (include "tigw.fullname" .)) -}}
{{- end -}}

{{- define "tigw.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
