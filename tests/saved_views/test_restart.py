"""Saved views are data: one saved through the API of a running server is still there, unchanged, after
the server is stopped, read by a fresh process on the same database."""

import json
import subprocess
import sys
import urllib.request

from tests import servers


def manage_shell(server, code):
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=servers.ROOT, env=server.env,
                            capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_a_view_saved_through_the_api_survives_a_restart(tmp_path):
    with servers.gunicorn(tmp_path, workers=1, extra_env={"MSGTRACE_AUTH": "on"}) as server:
        secret = manage_shell(server, "from accounts.models import ApiKey; "
                                      "print(ApiKey.objects.issue('ci', ['read', 'write'])[1])")
        body = {"name": "Slow support runs", "params": {"workflow": "support", "min_duration_ms": 2000}}
        request = urllib.request.Request(server.url + "/api/v1/views", data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201
            saved = json.loads(response.read())

        server.process.terminate()
        server.process.wait(timeout=20)

        stored = manage_shell(server, "import json; from saved_views.models import SavedView; "
                                      "v = SavedView.objects.get(); "
                                      "print(json.dumps([v.pk, v.name, v.owner_id, v.shared, v.params, v.url]))")
    assert json.loads(stored) == [saved["id"], "Slow support runs", None, True,
                                  {"workflow": "support", "min_duration_ms": "2000"},
                                  "/traces?workflow=support&min_duration_ms=2000"]
