"""The PDF reports: /traces/<trace_id>/report.pdf (the trace, or its whole run) and
/compare/report.pdf?a=<trace_id>&b=<trace_id>. Each answers what its page answers for an unknown or
malformed id, and is readable by whoever may read that page."""

from django.shortcuts import render
from django.template.loader import render_to_string

from compare.comparison import Comparison, UnknownTrace
from compare.forms import CompareForm
from reports import pdf
from reports.report import ComparisonReport, TraceReport
from traces.models import Trace
from ui.trace_page import not_found


def trace_report(request, trace_id):
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return not_found(request, trace_id)
    context = {"report": TraceReport(trace), "stylesheet": pdf.stylesheet_url()}
    return pdf.response(render_to_string("reports/trace.html", context, request), f"trace-{trace.trace_id}.pdf")


def compare_report(request):
    form = CompareForm(request.GET)
    if not form.is_valid():
        problems = [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
        return render(request, "compare/compare.html", {"nav": "traces", "problems": problems}, status=400)
    a, b = form.cleaned_data["a"], form.cleaned_data["b"]
    try:
        comparison = Comparison.between(a, b)
    except UnknownTrace as missing:
        return render(request, "compare/compare.html", {"nav": "traces", "problems": [str(missing)]}, status=404)
    context = {"report": ComparisonReport(comparison), "stylesheet": pdf.stylesheet_url()}
    return pdf.response(render_to_string("reports/compare.html", context, request), f"compare-{a[:8]}-{b[:8]}.pdf")
