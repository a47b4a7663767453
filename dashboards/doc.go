// Package dashboards holds what users open beside a run rather than code:
// Grafana dashboards and provisioning (grafana/), the Prometheus recording
// and alerting rules every run loads (prometheus/), and the Elasticsearch
// template and Kibana objects for the logs. Its tests check these files
// against the series the components export, so a renamed metric breaks the
// build instead of a dashboard.
package dashboards
