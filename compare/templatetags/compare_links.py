"""Links into the comparison page from other pages."""

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from traces.models import Trace

register = template.Library()


@register.simple_tag
def compare_with_previous_url(trace, run=None):
    """/compare?a=<the previous run of the workflow>&b=<this run>, or "" when the run has no workflow
    or no earlier run of it exists. `run` is the run's traces, the outermost first (None: the trace alone)."""
    outermost = run[0] if run else trace
    previous = Trace.objects.previous_of_workflow(outermost)
    if previous is None:
        return ""
    return f"{reverse('compare')}?{urlencode({'a': previous.trace_id, 'b': outermost.trace_id})}"
