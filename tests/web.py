"""A visitor of a live server without a browser: cookies kept, forms posted with their CSRF token."""

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass


@dataclass
class Page:
    url: str
    status: int
    text: str


class WebSession:
    def __init__(self, base):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def _url(self, path):
        return path if path.startswith("http") else self.base + path

    def open(self, path, data=None, method=None, headers=None, ok=(200,)):
        request = urllib.request.Request(self._url(path), data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                page = Page(response.url, response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            page = Page(error.url, error.code, error.read().decode())
        assert page.status in ok, f"{method or 'GET'} {path}: {page.status} {page.text[:300]}"
        return page

    def get(self, path, ok=(200,)):
        return self.open(path, ok=ok)

    def get_status(self, path):
        return self.open(path, ok=range(100, 600)).status

    def get_json(self, path):
        return json.loads(self.get(path).text)

    def csrf_token(self):
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")

    def post_form(self, page, fields, action=None, ok=(200,)):
        """Posts `fields` to the page's form (its own URL unless `action`), as the browser would."""
        if action is None:
            match = re.search(r'<form method="post"(?: action="([^"]*)")?', page.text)
            action = urllib.parse.urljoin(page.url, (match.group(1) or "").replace("&amp;", "&")) if match else page.url
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.csrf_token(), **fields}, doseq=True).encode()
        return self.open(action, data=body, method="POST", ok=ok,
                         headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": page.url})

    def sign_in(self, username, password):
        page = self.get("/signin")
        return self.post_form(page, {"username": username, "password": password})
