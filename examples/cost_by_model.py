"""Token and cost totals per model from msgtrace's REST API, as a script or a CI job would read them.

    MSGTRACE_API_KEY=mt_... python examples/cost_by_model.py [http://127.0.0.1:4321] [--window 7d]

The API needs a key with the `read` scope (Settings > API keys) unless access control is off.
Standard library only."""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", nargs="?", default="http://127.0.0.1:4321")
    parser.add_argument("--window", default="24h", choices=["1h", "24h", "7d", "30d", "all"])
    args = parser.parse_args()
    url = f"{args.base_url.rstrip('/')}/api/v1/stats?window={args.window}"
    key = os.environ.get("MSGTRACE_API_KEY", "")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            stats = json.load(response)
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read() or b"{}").get("detail", error.reason)
        sys.exit(f"msgtrace answered {error.code}: {detail}" + ("" if key else " (set MSGTRACE_API_KEY)"))
    print(f"{'model':<28} {'calls':>7} {'input':>10} {'output':>10} {'total':>10} {'cost':>12}")
    for row in stats["by_model"]:
        print(f"{row['model'] or '(no model)':<28} {row['calls']:>7} {row['input_tokens']:>10,} {row['output_tokens']:>10,} "
              f"{row['total_tokens']:>10,} {row['cost']:>12.6f}")
    print(f"{'all traces (' + args.window + ')':<28} {stats['total_traces']:>7} {stats['input_tokens']:>10,} "
          f"{stats['output_tokens']:>10,} {stats['total_tokens']:>10,} {stats['total_cost']:>12.6f}")


if __name__ == "__main__":
    main()
