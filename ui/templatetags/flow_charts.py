"""The flows page's diagram as inline SVG, laid out here so that the template only loops.

Columns are the steps' distance from the start (breadth first over the edges, most travelled first), the
end one column past the farthest step; in a column the busiest step is on top. A node is as tall as its
count, and an edge as wide as its count, so the bands into and out of a step add up to it. An edge back to
an earlier or the same column (a loop: the agent calls the model again) is drawn as an arc beneath."""

from collections import deque
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from traces.formatting import cost, duration, tokens
from traces.query import quoted

register = template.Library()

COLUMN = 170  # distance between columns, room for a label beside each node
NODE = 12  # node width
PLOT = 380  # height the tallest column is scaled to
GAP = 30  # between the nodes of a column: room for a two-line label
MARGIN = 16
END_LABEL = 70  # room for the end's label
ARC = 14  # how much deeper below the plot a loop arc goes per column it goes back
MIN_BAND = 1.5
SHRINK = 0.75
START, END = "\x00start", "\x00end"  # never a step name: ingest turns NUL into U+FFFD


def error_class(rate):
    """The colour of an error rate: none, some (under 5%), many (under 20%), most."""
    if not rate:
        return "err-0"
    return "err-1" if rate < 0.05 else "err-2" if rate < 0.2 else "err-3"


def step_link(step, filters, start):
    """The trace list of the traces that went through a step, in the flow's window, workflow and service;
    one row per trace (a run's steps may sit in its stitched traces)."""
    params = {"group": "trace", "q": f"step:{quoted(step)}", "start": start.isoformat() if start else None} | filters
    return reverse("traces") + "?" + urlencode({name: value for name, value in params.items() if value})


def _columns(flow):
    depth = {START: 0}
    following = {}
    for edge in flow["edges"]:  # most travelled first
        following.setdefault(edge["source"] or START, []).append(edge["target"] or END)
    queue = deque([START])
    while queue:
        node = queue.popleft()
        for target in following.get(node, []):
            if target != END and target not in depth:
                depth[target] = depth[node] + 1
                queue.append(target)
    depth[END] = max(depth.values()) + 1
    return depth


@register.inclusion_tag("ui/partials/_flow_chart.html")
def flow_chart(flow, filters, start):
    if not flow["nodes"]:
        return {"empty": True}
    depth = _columns(flow)
    steps = {node["step"]: node for node in flow["nodes"]}
    values = {START: flow["runs"], END: flow["runs"]} | {step: node["spans"] for step, node in steps.items()}
    columns = {}
    for name in sorted(depth, key=lambda name: -values[name]):
        columns.setdefault(depth[name], []).append(name)
    scale = max(0.0, PLOT - GAP * (max(len(names) for names in columns.values()) - 1)) / max(
        sum(values[name] for name in names) for names in columns.values())
    boxes = {}
    for column, names in columns.items():
        y = MARGIN + (PLOT - sum(values[n] * scale for n in names) - GAP * (len(names) - 1)) / 2
        for name in names:
            height = max(2.0, values[name] * scale)
            boxes[name] = {"x": MARGIN + column * COLUMN, "y": y, "height": height, "out": 0.0, "in": 0.0}
            y += height + GAP
    deepest = 0
    bands = []
    edges = sorted(flow["edges"], key=lambda e: (boxes[e["target"] or END]["y"], boxes[e["source"] or START]["y"]))
    bottom = MARGIN + PLOT
    for edge in edges:
        source, target = boxes[edge["source"] or START], boxes[edge["target"] or END]
        width = max(MIN_BAND, edge["count"] * scale)
        y1 = source["y"] + source["out"] + width / 2
        y2 = target["y"] + target["in"] + width / 2
        source["out"] += edge["count"] * scale
        target["in"] += edge["count"] * scale
        x1, x2 = source["x"] + NODE, target["x"]
        if x2 > x1:
            middle = (x1 + x2) / 2
            path = f"M{x1:.1f},{y1:.1f} C{middle:.1f},{y1:.1f} {middle:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        else:
            back = min(6, round((x1 - x2) / COLUMN))  # loops over the same distance share an arc
            deepest = max(deepest, back)
            low = bottom + ARC * (back + 1)
            path = (f"M{x1:.1f},{y1:.1f} C{x1 + 60:.1f},{y1:.1f} {x1 + 60:.1f},{low:.1f} {x1:.1f},{low:.1f} "
                    f"L{x2:.1f},{low:.1f} C{x2 - 60:.1f},{low:.1f} {x2 - 60:.1f},{y2:.1f} {x2:.1f},{y2:.1f}")
        names = (_name(edge["source"], "start"), _name(edge["target"], "end"))
        detail = f"{names[0]} → {names[1]}: {edge['count']:,}"
        if edge["target"] is not None:
            detail += f", {edge['error_rate']:.0%} failed"
        bands.append({"path": path, "width": round(width, 2), "loop": x2 <= x1,
                      "class": error_class(edge["error_rate"]) if edge["target"] is not None else "end",
                      "title": detail})
    nodes = []
    for name, box in boxes.items():
        node = steps.get(name)
        label = _name(None if name in (START, END) else name, "start" if name == START else "end")
        nodes.append({
            "x": round(box["x"], 2), "y": round(box["y"], 2), "height": round(box["height"], 2),
            "label": label, "kind": node["kind"] if node else "", "virtual": node is None,
            "class": error_class(node["error_rate"]) if node else "virtual",
            "href": step_link(name, filters, start) if node else "",
            "text_x": round(box["x"] + NODE + 6, 2),
            "text_y": round(box["y"] + box["height"] / 2, 2),
            "sub": (f"{node['spans']:,} · {duration(node['avg_duration_ms'])}" if node else f"{flow['runs']:,} runs"),
            "title": (f"{name}: {node['spans']:,} spans, {node['error_rate']:.0%} failed, avg "
                      f"{duration(node['avg_duration_ms'])}, {tokens(node['total_tokens'])} tokens, "
                      f"{cost(node['cost'])}") if node else f"{label}: {flow['runs']:,} runs",
        })
    width = MARGIN * 2 + depth[END] * COLUMN + NODE + END_LABEL
    height = bottom + ARC * (deepest + 1) + MARGIN
    # Drawn at its own size up to the page's width, and shrunk down to SHRINK of it before it scrolls.
    return {"empty": False, "width": round(width, 2), "height": round(height, 2), "bands": bands, "nodes": nodes,
            "node_width": NODE, "min_width": round(width * SHRINK)}


def _name(step, virtual):
    return f"({virtual})" if step is None else step


@register.inclusion_tag("ui/partials/_flow_steps.html")
def flow_steps(flow, filters, start):
    rows = [node | {"href": step_link(node["step"], filters, start), "class": error_class(node["error_rate"])}
            for node in flow["nodes"]]
    return {"rows": rows}
