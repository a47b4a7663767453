// Package logship ships a run's component logs to Elasticsearch, the "E" of
// the ELK stack the seed paper names for centralized logs.
//
// Every component writes JSON lines with log/slog's JSONHandler to its own
// file in the run bundle. After the run, Ship reads those files and sends
// each line to the run's index (IndexName(runID), "testbed-logs-<run-id>")
// through esutil.BulkIndexer of the official go-elasticsearch v8 client.
// Each document keeps the line's fields (level, msg, component, arch, order,
// trace_id, span_id, ...), gets @timestamp from slog's "time", the
// component label where the line has none, the run's fields (run_id, arch,
// scenario) where the line has none, and log_line, its line number in the
// file. A line that is not JSON, such as a Go panic trace on stderr, is
// kept as {"msg": line, "level": "ERROR", "raw": true} so a crash shows up
// among the errors rather than vanishing.
//
// Shipping happens when a run is given `--elasticsearch URL`, or when the
// docker runtime starts an Elasticsearch container. Without either the log
// files stay in the bundle and nothing is sent. Ship is meant to run after
// the load stops, so bulk traffic does not compete with the system under
// measurement.
//
// # Loading the template and saved objects by hand
//
// The index template must exist before the run's index is created:
// ApplyTemplate installs it and is called before Ship. By hand, from the
// repository root:
//
//	curl -X PUT "$ES/_index_template/testbed-logs" \
//	  -H 'Content-Type: application/json' \
//	  --data-binary @dashboards/elasticsearch/index-template.json
//
// The Kibana data view (testbed-logs-*) and the saved searches "Errors"
// (level ERROR or WARN) and "By trace id" are imported with
//
//	curl -X POST "$KIBANA/api/saved_objects/_import?overwrite=true" \
//	  -H 'kbn-xsrf: true' --form file=@dashboards/kibana/saved-objects.ndjson
//
// They need Kibana 8.8 or later (the export format with
// typeMigrationVersion). "By trace id" is saved with the query
// trace_id : "PASTE-TRACE-ID": open it in Discover, replace the placeholder
// with the trace id from the report or Jaeger, and press Enter; Discover
// also takes the query in the URL, e.g.
// $KIBANA/app/discover#/view/testbed-logs-by-trace-id?_a=(query:(language:kuery,query:'trace_id:"<id>"')).
package logship
