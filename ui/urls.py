from django.urls import path

from ui.views import dashboard, flows, ingest_health, share, span, trace_detail, traces

urlpatterns = [
    path("", dashboard.root, name="dashboard"),
    path("traces", traces.trace_list, name="traces"),
    path("flows", flows.flows_page, name="flows"),
    path("ingest-health", ingest_health.ingest_health_page, name="ingest-health"),
    path("traces/<str:trace_id>", trace_detail.trace_detail, name="trace-detail"),
    path("traces/<str:trace_id>/delete", traces.trace_delete, name="trace-delete"),
    path("traces/<str:trace_id>/spans/<str:span_id>", span.span_detail, name="span-detail"),
    # Rows of a subtree (or top-level slice) the trace page drew closed, fetched when opened.
    path("traces/<str:trace_id>/subtree", trace_detail.subtree, name="trace-subtree-top"),
    path("traces/<str:trace_id>/subtree/<str:span_id>", trace_detail.subtree, name="trace-subtree"),
    path("traces/<str:trace_id>/share", share.create, name="trace-share"),
    # A share link's pages, open to anyone with its token (accounts.middleware.PUBLIC); the same
    # trace page, span panel and subtree rows as above, for the shared trace and its run alone.
    path("share/<str:token>", share.shared_trace, name="share"),
    path("share/<str:token>/spans/<str:span_id>", share.shared_span, name="share-span"),
    path("share/<str:token>/subtree", share.shared_subtree, name="share-subtree-top"),
    path("share/<str:token>/subtree/<str:span_id>", share.shared_subtree, name="share-subtree"),
]
