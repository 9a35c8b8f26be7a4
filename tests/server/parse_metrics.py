# Parses Prometheus text format from stdin with the official Python client's
# parser (Debian's python3-prometheus-client) and prints one JSON object per
# sample: {"name": ..., "labels": {...}, "value": ...}. Exits non-zero on a
# parse error, so a malformed exposition fails the test that calls it.
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
for family in text_string_to_metric_families(text):
    for sample in family.samples:
        print(json.dumps({"name": sample.name, "labels": sample.labels, "value": sample.value,
                          "type": family.type}))
