"""The one NinjaAPI of msgtrace, mounted at /api/v1: each app contributes a Router."""

from ninja import NinjaAPI, Swagger
from ninja.errors import ValidationError

from alerts.api import router as alerts_router
from audit.api import router as audit_router
from compare.api import router as compare_router
from conversations.api import router as conversations_router
from ingest_health.api import router as ingest_health_router
from saved_views.api import router as saved_views_router
from traces.api import InvalidParameter
from traces.api import router as traces_router
from traces.stats_api import router as stats_router
from traces.pagination import InvalidCursor

api = NinjaAPI(
    title="msgtrace",
    version="1",
    description="Traces of LLM and agent applications: queries, statistics and export.",
    urls_namespace="api",
    # No badge from the public online validator: it would send the schema's URL to a third party, and
    # the Content-Security-Policy refuses images from elsewhere.
    docs=Swagger(settings={"validatorUrl": None}),
)
api.add_router("/", traces_router)
api.add_router("/", stats_router)
api.add_router("/", ingest_health_router)
api.add_router("/", audit_router)
api.add_router("/", saved_views_router)
api.add_router("/", compare_router)
api.add_router("/", conversations_router)
api.add_router("/", alerts_router)


def _query_error_types():
    from traces.query import QueryError, QuerySyntaxError

    return QueryError, QuerySyntaxError


@api.exception_handler(ValueError)
def bad_value(request, exc):
    if isinstance(exc, (InvalidParameter, InvalidCursor)):
        return api.create_response(request, {"detail": str(exc)}, status=422)
    if isinstance(exc, _query_error_types()):
        return api.create_response(request, {"detail": str(exc), "column": exc.column}, status=400)
    raise exc


@api.exception_handler(ValidationError)
def invalid_parameters(request, exc):
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ())[1:]) or 'request'}: {error.get('msg', 'invalid')}"
        for error in exc.errors
    )
    return api.create_response(request, {"detail": problems or "invalid request"}, status=422)
