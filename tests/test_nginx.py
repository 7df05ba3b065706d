"""msgtrace behind deploy/nginx.conf, as shipped: a real nginx (Debian's, which bin/test installs) in
front of `manage.py start`, listening on a port other than 80 as the compose file's 8080 does.

Through it, a browser deletes a trace (a form POST that Django's CSRF origin check must accept),
exporters' chunked and gzip bodies are stored, and the page's static files are served. Without nginx
the tests are skipped on a developer's machine and fail in CI (CI=true), where bin/test installs it.
"""

import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import helpers as h
from tests import servers
from tests.ui.browser.support import CHROMIUM, create_superuser, fresh_trace, require_chromium

pytestmark = pytest.mark.slow

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SHIPPED = servers.ROOT / "deploy" / "nginx.conf"


def require_nginx():
    if Path(NGINX).exists():
        return
    reason = "nginx is missing: install Debian's nginx (bin/test does) to run the tests behind nginx"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def nginx_conf(folder, upstream_port, listen_port):
    """deploy/nginx.conf with only its upstream and listen lines changed, inside a main configuration
    whose pid, logs and temp files stay in `folder`."""
    site = SHIPPED.read_text()
    for line, replacement in (("server msgtrace:4321;", f"server 127.0.0.1:{upstream_port};"),
                              ("listen 80;", f"listen 127.0.0.1:{listen_port};")):
        assert site.count(line) == 1, f"deploy/nginx.conf no longer has {line!r}"
        site = site.replace(line, replacement)
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                              "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers would run as nobody, locked out of folder
    conf = folder / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    access_log {folder / "access.log"};
{temp}
{site}
}}
""")
    return conf


@contextmanager
def started(folder):
    """`manage.py start` with MSGTRACE_BEHIND_PROXY=true and access control on, as compose runs it."""
    with servers.database(folder) as (db_env, database_url):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MSGTRACE_DB_PATH", "MSGTRACE_AUTH")}
        env.update(db_env, MSGTRACE_STATIC_ROOT=str(folder / "static"), MSGTRACE_BEHIND_PROXY="true",
                   SECRET_KEY="tests")
        env.setdefault("MSGTRACE_DB_PATH", str(folder / "msgtrace.sqlite3"))
        port = servers.free_port()
        log_path = folder / "start.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "start", "--port", str(port), "--workers", "2"],
                cwd=servers.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            try:
                servers.wait_for_port(port, process, timeout=90)
                server = servers.Server(f"http://127.0.0.1:{port}", env, database_url)
                server.log_path = log_path
                yield server
            finally:
                process.terminate()
                process.wait(timeout=30)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """nginx on a free port in front of msgtrace; its url is nginx's, its database msgtrace's."""
    require_nginx()
    folder = tmp_path_factory.mktemp("nginx")
    with started(folder) as server:
        port = servers.free_port()
        conf = nginx_conf(folder, urllib.request.urlparse(server.url).port, port)
        check = subprocess.run([NGINX, "-t", "-q", "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        process = subprocess.Popen(
            [NGINX, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        try:
            servers.wait_for_port(port, process)
            server.upstream = server.url
            server.url = f"http://127.0.0.1:{port}"
            yield server
        finally:
            process.terminate()  # SIGTERM: nginx's fast shutdown
            process.wait(timeout=20)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_a_trace_is_deleted_from_the_list_in_a_browser(proxied):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    message, trace_id, name = fresh_trace(service="behind-nginx")
    status, _ = servers.post_chunked(proxied.url, message.SerializeToString())
    assert status == 200 and proxied.spans_of(trace_id) == 2
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page(base_url=proxied.url)
            page.set_default_timeout(10_000)
            create_superuser(proxied, "operator", "a long passphrase 1")
            page.goto("/traces")
            # Signed in through the proxy: the session cookie and the form's CSRF check pass nginx.
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", "a long passphrase 1")
            page.click("button[type=submit]")
            page.wait_for_url("**/traces")
            row = page.locator(f"#trace-{trace_id}")
            expect(row).to_be_visible()
            page.once("dialog", lambda dialog: dialog.accept())
            with page.expect_response(lambda response: response.request.method != "GET") as deleted:
                row.locator("button[title='Delete this trace']").click()
            # A CSRF origin check that fails answers 403 "Origin checking failed".
            assert deleted.value.status < 400, (deleted.value.status, deleted.value.text()[:500])
            expect(row).to_have_count(0)
        finally:
            browser.close()
    assert proxied.spans_of(trace_id) == 0
    assert get(f"{proxied.url}/api/v1/traces/{trace_id}")[0] == 401  # and anonymous callers read nothing


def test_chunked_and_gzip_exports_are_stored(proxied):
    payload = h.request(*[h.span(trace=0xC1, span=n + 1, name=f"chunked {n}", attributes={"pad": "y" * 300})
                          for n in range(300)]).SerializeToString()
    assert servers.post_chunked(proxied.url, payload, chunk_size=4096)[0] == 200
    assert proxied.spans_of(h.trace_id(0xC1).hex()) == 300

    compressed = h.gz(h.body(*[h.span(trace=0xC2, span=n + 1) for n in range(50)]))
    request = urllib.request.Request(proxied.url + "/v1/traces", data=compressed, method="POST",
                                     headers={"Content-Type": h.PROTOBUF, "Content-Encoding": "gzip"})
    assert urllib.request.urlopen(request, timeout=30).status == 200
    assert proxied.spans_of(h.trace_id(0xC2).hex()) == 50

    chunked_gzip = h.gz(h.body(*[h.span(trace=0xC3, span=n + 1) for n in range(20)]))
    assert servers.post_chunked(proxied.url, chunked_gzip, Content_Encoding="gzip")[0] == 200
    assert proxied.spans_of(h.trace_id(0xC3).hex()) == 20


def test_the_pages_static_files_are_served_with_their_types(proxied):
    status, _, page = get(proxied.url + "/")
    assert status == 200
    assets = re.findall(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="(/static/[^"]+)"', page.decode())
    assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets), assets
    for asset in assets:
        status, headers, body = get(proxied.url + asset)
        expected = "text/css" if asset.endswith(".css") else "text/javascript"
        assert (status, headers.get_content_type()) == (200, expected), asset
        assert body
