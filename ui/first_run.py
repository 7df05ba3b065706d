"""What an empty msgtrace shows instead of its dashboard and trace list: how to send traces to this
very server, spelled with the address the browser reached it at."""

from django.conf import settings
from django.http.request import split_domain_port


def first_run(request):
    """How to send traces to this very server, spelled with the URL the browser reached it at."""
    base = request.build_absolute_uri("/")
    keyed = bool(settings.MSGTRACE_INGEST_KEYS)
    msgtrace = {
        "MSGTRACE_TELEMETRY_ENABLED": "true",
        "MSGTRACE_OTLP_ENDPOINT": base + "api/v1/traces/export",
        "MSGTRACE_SERVICE_NAME": "my-agent",
    }
    otel, otel_note = _otel(request, base)
    if keyed:
        otel["OTEL_EXPORTER_OTLP_HEADERS"] = "authorization=Bearer <your ingest key>"
    return {
        "base_url": base,
        "keyed": keyed,
        "snippets": [
            _snippet("msgflux or msgtrace-sdk", msgtrace, "Set them before the program starts: msgflux and "
                     "msgtrace-sdk read them once, when they are first imported, not while it runs."),
            _snippet("Any OpenTelemetry SDK", otel, otel_note),
        ],
        "curl": _curl(base, keyed),
    }


def _otel(request, base):
    """The SDKs' default, OTLP/gRPC on MSGTRACE_GRPC_PORT of the host the browser reached; OTLP/HTTP
    when gRPC is off."""
    if not settings.MSGTRACE_GRPC_PORT:
        variables = {"OTEL_EXPORTER_OTLP_ENDPOINT": base.rstrip("/"), "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
        return variables | {"OTEL_SERVICE_NAME": "my-agent"}, (
            "OTLP over HTTP with protobuf: this server's OTLP/gRPC port is turned off (MSGTRACE_GRPC_PORT=0).")
    host, _ = split_domain_port(request.get_host())
    variables = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host}:{settings.MSGTRACE_GRPC_PORT}",
                 "OTEL_SERVICE_NAME": "my-agent"}
    return variables, (f"OTLP over gRPC, the SDKs' default. OTLP/HTTP works too: the endpoint {base.rstrip('/')} "
                       "with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf.")


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
