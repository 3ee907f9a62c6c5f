"""Rotel trace processor: append every span Rotel receives to a JSON-lines file.

Rotel imports this file into its embedded Python (Debian's 3.11, standard library only) and
calls ``process_spans`` for each ``ResourceSpans`` it receives over OTLP. The file named by
``OTLP_SINK_FILE`` gets one JSON object per span, holding everything the span carried
(resource, scope, ids, times, attributes, events, links, status), so tests can assert the
received tree and search the whole export for data that must never leave the application.
"""

import json
import os


def _value(any_value):
    if any_value is None:
        return None
    value = any_value.value
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "__iter__"):
        items = list(value)
        if items and hasattr(items[0], "key"):  # KeyValueList
            return {item.key: _value(item.value) for item in items}
        return [_value(item) for item in items]  # ArrayValue
    return repr(value)


def _attributes(key_values):
    return {kv.key: _value(kv.value) for kv in key_values}


def _hex(identifier):
    return bytes(identifier).hex() if identifier else ""


def process_spans(resource_spans):
    resource = _attributes(resource_spans.resource.attributes) if resource_spans.resource else {}
    lines = []
    for scope_spans in resource_spans.scope_spans:
        scope = scope_spans.scope
        for span in scope_spans.spans:
            lines.append(
                json.dumps(
                    {
                        "resource": resource,
                        "scope": {
                            "name": scope.name if scope else "",
                            "version": scope.version if scope else "",
                        },
                        "name": span.name,
                        "kind": int(span.kind),
                        "trace_id": _hex(span.trace_id),
                        "span_id": _hex(span.span_id),
                        "parent_span_id": _hex(span.parent_span_id),
                        "start_time_unix_nano": span.start_time_unix_nano,
                        "end_time_unix_nano": span.end_time_unix_nano,
                        "attributes": _attributes(span.attributes),
                        "events": [
                            {"name": event.name, "attributes": _attributes(event.attributes)}
                            for event in span.events
                        ],
                        "links": [
                            {"trace_id": _hex(link.trace_id), "span_id": _hex(link.span_id)}
                            for link in span.links
                        ],
                        "status": {
                            "code": int(span.status.code) if span.status else 0,
                            "message": span.status.message if span.status else "",
                        },
                    },
                    ensure_ascii=False,
                )
            )
    with open(os.environ["OTLP_SINK_FILE"], "a", encoding="utf-8") as sink:
        sink.write("".join(line + "\n" for line in lines))
