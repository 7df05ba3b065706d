"""The comparison page at /compare?a=<trace_id>&b=<trace_id>."""

from urllib.parse import urlencode

from django.shortcuts import redirect, render
from django.urls import reverse

from compare.comparison import Comparison, UnknownTrace
from compare.forms import CompareForm, picked
from traces.models import Trace

TEMPLATE = "compare/compare.html"


def compare(request):
    if "pick" in request.GET:  # the trace list's form: two checked rows, sent on to the URL to share
        form = picked(request.GET)
        if form is None:
            count = len(request.GET.getlist("pick"))
            problems = [f"Check exactly two traces in the list to compare them ({count} checked)."]
            return render(request, TEMPLATE, {"nav": "traces", "problems": problems}, status=400)
        if form.is_valid():
            ids = [form.cleaned_data["a"], form.cleaned_data["b"]]
            # The earlier run is A, whichever way the list was sorted.
            started = dict(Trace.objects.filter(trace_id__in=ids).values_list("trace_id", "start_ns"))
            a, b = sorted(ids, key=lambda trace_id: started.get(trace_id, 0))
            return redirect(f"{reverse('compare')}?{urlencode({'a': a, 'b': b})}")
    else:
        form = CompareForm(request.GET)
    if not form.is_valid():
        problems = [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
        return render(request, TEMPLATE, {"nav": "traces", "problems": problems}, status=400)
    try:
        comparison = Comparison.between(form.cleaned_data["a"], form.cleaned_data["b"])
    except UnknownTrace as missing:
        return render(request, TEMPLATE, {"nav": "traces", "problems": [str(missing)]}, status=404)
    return render(request, TEMPLATE, {"nav": "traces", "comparison": comparison})
