"""Where the trace page's links go. The trace page, the span panel and the rows they fetch build every
URL through one of these objects, so that the same templates draw the page in msgtrace (SiteLinks) and
behind a share link (ShareLinks), where every link stays inside the share."""

from functools import cached_property, lru_cache
from urllib.parse import urlencode

from django.urls import get_script_prefix, reverse

from traces.models import Trace

# Trace-list filters with a form field of their own; the rest go through the query language.
_LIST_FIELDS = {"service", "workflow", "model"}


def _quoted(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("*", "\\*") + '"'


def _with_view(url, view):
    return url if view == "timeline" else f"{url}?view={view}"


def _subtree(base, span_id, view, offset):
    url = f"{base}/subtree/{span_id}" if span_id else f"{base}/subtree"
    return url + f"?view={view}" + (f"&offset={offset}" if offset else "")


@lru_cache(maxsize=1024)
def _trace_path(trace_id, script_prefix):
    # script_prefix only keys the cache: reverse() reads it itself, and it can differ between requests.
    return reverse("trace-detail", args=[trace_id])


class SiteLinks:
    """msgtrace's own pages: each trace at /traces/<trace_id>, the list, sharing. A span's panel and a
    subtree's rows are under their trace's path (ui/urls.py): a page of 400 rows reverses one URL,
    not 400."""

    def _base(self, trace_id):
        return _trace_path(trace_id, get_script_prefix())

    def trace(self, trace_id, view="timeline"):
        return _with_view(self._base(trace_id), view)

    def span(self, trace_id, span_id, view="timeline"):
        return _with_view(f"{self._base(trace_id)}/spans/{span_id}", view)

    def subtree(self, trace_id, span_id=None, view="timeline", offset=0):
        return _subtree(self._base(trace_id), span_id, view, offset)

    def reaches(self, trace_id):
        """Whether a page of that trace can be linked to (it still has to be stored)."""
        return True

    @property
    def trace_list(self):
        return reverse("traces")

    def traces_with(self, **filters):
        """The trace list narrowed to one service, workflow, model, user or session."""
        params = {}
        terms = []
        for field, value in filters.items():
            if not value:
                continue
            if field in _LIST_FIELDS:
                params[field] = value
            else:
                terms.append(f"{field}:{_quoted(str(value))}")
        if terms:
            params["q"] = " ".join(terms)
        return self.trace_list + ("?" + urlencode(params) if params else "")

    def share(self, trace_id):
        """Where the Share button posts to."""
        return reverse("trace-share", args=[trace_id])


SITE = SiteLinks()


class ShareLinks(SiteLinks):
    """The pages of one share link: its trace and run at /share/<token>, their spans and subtrees under
    it, and nothing else (no list, no other trace, no sharing a share)."""

    trace_list = None

    def __init__(self, token, trace):
        self.shared_trace = trace
        self.path = reverse("share", args=[token])

    @cached_property
    def _run_trace_ids(self):
        return {member.trace_id for member in Trace.objects.run_members(self.shared_trace)}

    def _base(self, trace_id):
        # Every trace of the run is drawn on the share's one page, and its spans are found by id in the run.
        return self.path

    def reaches(self, trace_id):
        return trace_id in self._run_trace_ids

    def traces_with(self, **filters):
        return None

    def share(self, trace_id):
        return None
