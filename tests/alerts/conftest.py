import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerts.models import Rule, Target, TargetKind


class Receiver:
    """A real HTTP server on a free local port that keeps every request it gets and answers with the
    next of `answers` (status codes; the last one repeats), after `delay` seconds."""

    def __init__(self):
        self.requests = []
        self.answers = [200]
        self.delay = 0
        self.redirect_to = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if len(receiver.answers) > 1 else receiver.answers[0]
                time.sleep(receiver.delay)
                self.send_response(status)
                if receiver.redirect_to:
                    self.send_header("Location", receiver.redirect_to)
                answer = f"answer {len(receiver.requests)}: " + "x" * 2000
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                try:
                    self.wfile.write(answer.encode())
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def payloads(self):
        return [json.loads(request["body"]) for request in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def verify(request, secret):
    """What a receiver does with X-Msgtrace-Signature, as docs/deployment.md tells it to: True when the
    body was signed with `secret`."""
    fields = dict(part.split("=", 1) for part in request["headers"]["X-Msgtrace-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - int(fields["t"])) < 300


@pytest.fixture
def webhook(receiver, db):
    return Target.objects.create(name="team hook", kind=TargetKind.WEBHOOK, url=receiver.url)


def rule(*targets, **fields):
    defaults = {"name": "checkout errors", "query": "workflow:checkout", "measure": "error_rate", "comparison": ">",
                "threshold": 20, "window_minutes": 10}
    created = Rule.objects.create(**(defaults | fields))
    created.targets.set(targets)
    return created
