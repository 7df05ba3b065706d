"""HTML to PDF with WeasyPrint, which fetches nothing but msgtrace's own print stylesheet.

A report prints what clients sent (span names, prompts, attribute values). The templates escape it,
and the fetcher below is the second wall: should markup ever get through, an <img>, a stylesheet or
a font it names is refused rather than fetched from the network or the server's disk.
"""

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.templatetags.static import static
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

STYLESHEET = "css/print.css"
# The address the report's HTML is read at: no real host, so that nothing relative resolves to one.
BASE_URL = "https://report.msgtrace.invalid/"


def stylesheet_url():
    return BASE_URL + static(STYLESHEET).lstrip("/")


class OwnStylesheetOnly(URLFetcher):
    """Answers the print stylesheet's URL from the static files on disk, and refuses every other URL
    (each is kept in `refused`)."""

    def __init__(self):
        super().__init__(allowed_protocols=())
        self.refused = []

    def fetch(self, url, headers=None):
        if url == stylesheet_url():
            path = finders.find(STYLESHEET)
            with open(path, "rb") as stylesheet:
                return URLFetcherResponse(url, stylesheet.read(), {"Content-Type": "text/css; charset=utf-8"})
        self.refused.append(url)
        raise ValueError(f"a report fetches nothing but its own stylesheet, not {url[:200]}")


def render(html, fetcher=None):
    """The PDF (bytes) of a report's HTML."""
    return HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher or OwnStylesheetOnly()).write_pdf()


def response(html, filename):
    """The PDF as a download named `filename`."""
    pdf = HttpResponse(render(html), content_type="application/pdf")
    pdf["Content-Disposition"] = f'attachment; filename="{filename}"'
    return pdf
