"""Reads a /metrics body on stdin with the Prometheus client library's own parser for the format
named by the first argument (`text`: 0.0.4, `openmetrics`: OpenMetrics 1.0) and prints, as JSON,
every metric family's name and type, with each sample's name, labels and value.

A body the parser refuses exits non-zero with its error. Used by host/tests/it/http_api.rs; scripts/test.sh installs the library."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as open_metrics
from prometheus_client.parser import text_string_to_metric_families as text

parse = {"text": text, "openmetrics": open_metrics}[sys.argv[1]]
families = {}
for family in parse(sys.stdin.read()):
    families[family.name] = {
        "type": family.type,
        "samples": [[s.name, s.labels, s.value] for s in family.samples],
    }
json.dump(families, sys.stdout)
