"""What an empty msgtrace shows instead of its dashboard and trace list: how to send traces to this
very server, spelled with the address the browser reached it at."""

from django.conf import settings


def first_run(request):
    """How to send traces to this very server, spelled with the URL the browser reached it at."""
    base = request.build_absolute_uri("/")
    keyed = bool(settings.MSGTRACE_INGEST_KEYS)
    msgtrace = {
        "MSGTRACE_TELEMETRY_ENABLED": "true",
        "MSGTRACE_OTLP_ENDPOINT": base + "api/v1/traces/export",
        "MSGTRACE_SERVICE_NAME": "my-agent",
    }
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": base.rstrip("/"),
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": "my-agent",
    }
    if keyed:
        otel["OTEL_EXPORTER_OTLP_HEADERS"] = "Authorization=Bearer <your ingest key>"
    return {
        "base_url": base,
        "keyed": keyed,
        "snippets": [
            _snippet("msgflux or msgtrace-sdk", msgtrace, "Set them before the program starts: msgflux and "
                     "msgtrace-sdk read them once, when they are first imported, not while it runs."),
            _snippet("Any OpenTelemetry SDK", otel, "OTLP over HTTP with protobuf: the SDKs default to gRPC, "
                     "which msgtrace does not serve."),
        ],
        "curl": _curl(base, keyed),
    }


def _snippet(title, variables, note):
    lines = [f"export {name}={value}" for name, value in variables.items()]
    return {"title": title, "variables": variables, "text": "\n".join(lines), "note": note}


def _curl(base, keyed):
    """A one-span OTLP/JSON trace, timed now by the shell, so the dashboard can be tried at once."""
    span = (
        '{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"hello from curl",'
        '"kind":1,"startTimeUnixNano":"\'$(date +%s)\'000000000","endTimeUnixNano":"\'$(date +%s)\'250000000"}'
    )
    body = (
        '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"curl"}}]},'
        f'"scopeSpans":[{{"spans":[{span}]}}]}}]}}'
    )
    key = " -H 'Authorization: Bearer <your ingest key>'" if keyed else ""
    return f"curl -X POST {base}v1/traces -H 'Content-Type: application/json'{key} -d '{body}'"
