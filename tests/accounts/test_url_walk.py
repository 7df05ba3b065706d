"""Every URL pattern in the URLconf is closed to anonymous visitors (the sign-in redirect for pages,
401 for the API), except an explicit allowlist: a page added later cannot be forgotten."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RoutePattern

pytestmark = pytest.mark.django_db

# (URL name, method) pairs anyone may call; None: every method.
OPEN = {
    ("otlp-traces", None),  # OTLP ingest: checks ingest keys itself
    ("dashboard", "POST"),  # msgtrace-sdk given a bare base URL posts OTLP to /
    ("traces-export", "POST"),  # POST /api/v1/traces/export, msgtrace-sdk's default path
    ("health", None),
    ("metrics", None),  # Prometheus: checks its own bearer token, closed while none is configured
    ("signin", None),
    ("signout", None),
    ("setup", None),
    ("share", None),
    ("share-span", None),
    ("share-subtree", None),
    ("share-subtree-top", None),
}
# Redirects that only send the visitor on to the sign-in page.
TO_SIGN_IN = {"admin/login/", "admin/logout/"}
SAMPLE = {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331", "token": "x",
          "path": "x", "url": "x", "object_id": "1", "content_type_id": "1", "model_name": "trace"}


def _sample(name, converter_or_regex):
    if name in SAMPLE:
        return SAMPLE[name]
    literal = re.fullmatch(r"[\w|-]+", converter_or_regex or "")
    if literal and "|" in converter_or_regex:  # the admin's (?P<app_label>auth|traces|...)
        return converter_or_regex.split("|")[0]
    return "1"


def _route(pattern):
    """A concrete path for one pattern's own part."""
    text = str(pattern.pattern)
    if isinstance(pattern.pattern, RoutePattern):
        return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: _sample(m.group(2), m.group(1)), text)
    text = re.sub(r"\(\?P<(\w+)>([^)]*)\)", lambda m: _sample(m.group(1), m.group(2)), text)
    return text.lstrip("^").rstrip("$").replace("\\", "")


def every_url(patterns=None, prefix=""):
    """(path, url name) of every pattern reachable from the root URLconf."""
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            yield from every_url(pattern.url_patterns, prefix + _route(pattern))
        elif isinstance(pattern, URLPattern):
            yield "/" + prefix + _route(pattern), pattern.name


# A path that two patterns share (one per method in the API, or the admin's login that msgtrace's
# redirect shadows) is requested once, under the name it resolves to.
URLS = sorted({path: resolve(path).url_name for path, _ in every_url()}.items())


def test_the_walk_builds_a_path_that_each_pattern_resolves():
    for path, name in every_url():
        match = resolve(path)
        assert match.url_name == name or match.route.startswith(("api/v1/", "admin/login/", "admin/logout/")), path


def test_the_walk_covers_pages_the_api_and_the_admin():
    paths = [path for path, _ in URLS]
    assert len(paths) > 60
    for expected in ("/traces", "/settings", "/api/v1/traces", "/api/v1/stats", "/admin/traces/trace/"):
        assert expected in paths


@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize(("path", "name"), URLS, ids=[path for path, _ in URLS])
def test_anonymous_visitors_are_sent_to_sign_in_or_refused(client, access_control, path, name, method):
    if (name, None) in OPEN or (name, method.upper()) in OPEN:
        return
    response = getattr(client, method)(path)
    if path.lstrip("/") in TO_SIGN_IN:
        assert response.status_code == 302 and response["Location"].startswith("/signin")
    elif path.startswith("/api/"):
        assert response.status_code == 401, response.content[:200]
        assert "authentication required" in response.json()["detail"]
    else:
        assert response.status_code == 302, response.content[:200]
        assert response["Location"].startswith("/signin?next=")
