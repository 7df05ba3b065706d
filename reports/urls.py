from django.urls import path

from reports import views

urlpatterns = [
    # The trace page's own path with report.pdf after it: the trace, or its whole run.
    path("traces/<str:trace_id>/report.pdf", views.trace_report, name="trace-report"),
    path("compare/report.pdf", views.compare_report, name="compare-report"),
]
