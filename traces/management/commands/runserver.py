"""`manage.py runserver` on msgtrace's own address (MSGTRACE_HOST:MSGTRACE_PORT, 127.0.0.1:4321 by
default), where OTLP exporters configured for msgtrace will look for it.

Django's development server does not de-chunk request bodies: a chunked OTLP export would reach the
view as an empty body. Its request handler here de-chunks one (capped at MSGTRACE_MAX_BODY_BYTES) and
hands it on with a Content-Length, as gunicorn and nginx do."""

import io
import os

from django.conf import settings
from django.db import DatabaseError
from django.core.servers import basehttp
from whitenoise.runserver_nostatic.management.commands.runserver import Command as RunserverCommand

from accounts import first_run
from traces import request_body


class DechunkingRequestHandler(basehttp.WSGIRequestHandler):
    def handle_one_request(self):
        """Django's WSGIRequestHandler.handle_one_request, with a chunked body read whole first."""
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        environ, stdin, whole = self.get_environ(), self.rfile, True
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            try:
                body, whole = request_body.dechunk(self.rfile, settings.MSGTRACE_MAX_BODY_BYTES)
            except ValueError as exc:
                self.close_connection = True
                self.send_error(400, f"Bad chunked body: {exc}")
                return
            stdin = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["HTTP_TRANSFER_ENCODING"]
        handler = basehttp.ServerHandler(stdin, self.wfile, self.get_stderr(), environ)
        handler.request_handler = self
        handler.run(self.server.get_app())
        if not whole:
            # The rest of an oversized body is still on the socket: it cannot carry another request.
            self.close_connection = True


class WSGIServer(basehttp.WSGIServer):
    def __init__(self, server_address, handler_class, *args, **kwargs):
        # basehttp.run() passes Django's request handler; this server always uses the one above.
        super().__init__(server_address, DechunkingRequestHandler, *args, **kwargs)


class Command(RunserverCommand):
    default_addr = settings.MSGTRACE_HOST
    default_port = str(settings.MSGTRACE_PORT)
    server_cls = WSGIServer

    def inner_run(self, *args, **options):
        if not options.get("use_reloader") or os.environ.get("RUN_MAIN"):  # once, in the serving process
            try:
                first_run.announce(self.stdout.write, self.addr, self.port)
            except DatabaseError:
                pass  # no tables yet: Django's own message says to run migrate

        super().inner_run(*args, **options)
