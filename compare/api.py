"""GET /api/v1/compare?a=<trace_id>&b=<trace_id>: the comparison page's alignment and deltas as JSON."""

from ninja import Field, Router, Schema, Status

from compare.comparison import FIGURES, Comparison, UnknownTrace
from compare.forms import CompareForm

router = Router(tags=["compare"])


class Error(Schema):
    detail: str


class RunFiguresOut(Schema):
    trace_id: str
    run_trace_ids: list[str]
    name: str
    duration_ms: float
    tokens: int
    cost: float
    errors: int
    model_calls: int
    tool_calls: int


class DeltasOut(Schema):
    duration_ms: float
    tokens: int
    cost: float
    errors: int
    model_calls: int
    tool_calls: int


class SpanOut(Schema):
    trace_id: str
    span_id: str
    name: str
    category: str
    duration_ms: float
    tokens: int | None
    cost: float | None
    status: str
    model: str


class ParameterOut(Schema):
    name: str
    a: str
    b: str


class StepOut(Schema):
    number: int
    depth: int
    side: str  # "both", "a" (only in A) or "b" (only in B)
    a: SpanOut | None
    b: SpanOut | None
    differs: list[str]
    # Word-level diffs as [operation, text] with operation "same", "del" (only in A), "ins" (only in B) or
    # "cut" (a note: texts past 100,000 characters are compared up to there).
    prompt: list[tuple[str, str]] | None
    completion: list[tuple[str, str]] | None
    parameters: list[ParameterOut]
    arguments: list[tuple[str, str]] | None
    result: list[tuple[str, str]] | None


class ComparisonOut(Schema):
    a: RunFiguresOut
    b: RunFiguresOut
    deltas: DeltasOut
    summary: str
    only_in_a: int
    only_in_b: int
    undetailed: int = Field(description="model calls and tool runs on both sides compared by their values only, "
                                        "without diffs of their text (past the first 200, or 2,000,000 characters)")
    steps: list[StepOut]


def _run(run):
    figures = {field: getattr(run, field) for field, _ in FIGURES}
    return {"trace_id": run.trace_id, "run_trace_ids": [member.trace_id for member in run.members],
            "name": run.name, **figures}


def _span(step, span, trace_id):
    if span is None:
        return None
    return {"trace_id": trace_id, "span_id": span.span_id, "name": span.name, "category": span.category,
            **step.values(span)}


def _changes(diff):
    return None if diff is None else diff.changes


def _step(step):
    return {
        "number": step.number, "depth": step.depth, "side": step.side,
        "a": _span(step, step.a, step.trace_a), "b": _span(step, step.b, step.trace_b), "differs": step.differs,
        "prompt": _changes(step.prompt), "completion": _changes(step.completion),
        "parameters": [{"name": name, "a": a, "b": b} for name, a, b in step.parameters],
        "arguments": _changes(step.arguments), "result": _changes(step.result),
    }


@router.get("/compare", response={200: ComparisonOut, 404: Error, 422: Error})
def compare(request, a: str, b: str):
    """Run A (the run of trace `a`) against run B: each run's figures, B's deltas, a one-line summary, and
    the steps aligned by their place in the tree, with the values and word-level diffs of each."""
    form = CompareForm({"a": a, "b": b})
    if not form.is_valid():
        return Status(422, {"detail": "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())})
    try:
        comparison = Comparison.between(form.cleaned_data["a"], form.cleaned_data["b"])
    except UnknownTrace as missing:
        return Status(404, {"detail": str(missing)})
    return {"a": _run(comparison.a), "b": _run(comparison.b), "deltas": comparison.deltas,
            "summary": comparison.summary, "only_in_a": comparison.only_in_a, "only_in_b": comparison.only_in_b,
            "undetailed": comparison.undetailed, "steps": [_step(step) for step in comparison.steps]}
