"""Worksheets of random, well-posed questions in the lecture notes' style, their answer keys, and
the grading of a filled-in answers file (what ``convcalc check ANSWERS.yaml`` runs).

One source of truth: every answer is read off convcalc itself, never a second formula: output
sizes, parameters, MACs and receptive fields from the engine's report of a one-layer (or
few-layer) spec, with the engine's own derivation line; paddings from :mod:`convcalc.teach.solve`;
pooled values and gradients from :mod:`convcalc.teach.handcalc` and :mod:`convcalc.teach.backward`.

The questions come from ``random.Random(seed)`` with ``randint`` and ``choice`` only, so a seed
gives the same worksheet on every Python 3 (a golden test holds seed 1). Questions cycle through
the topics asked for, in the order given.

An answers file is YAML::

    exercises: {topics: [output-size, params], count: 4, seed: 1}
    answers:
      1: 28
      2: 456
      3: "5/2"          # a fraction or a decimal is read exactly

``grade`` regenerates the key from ``exercises:`` and compares each answer exactly.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

from convcalc.engine import analyze
from convcalc.errors import Position, SpecError, UsageError
from convcalc.report import Row
from convcalc.spec import parse_spec
from convcalc.spec._yaml import Source, load_yaml
from convcalc.teach.backward import conv_backward
from convcalc.teach.handcalc import Number, format_number, parse_number, setup_pool
from convcalc.teach.solve import solve_padding

__all__ = [
    "MAX_COUNT",
    "TOPICS",
    "Graded",
    "Question",
    "Worksheet",
    "answers_template",
    "generate",
    "grade",
    "is_answers_file",
    "render_key_markdown",
    "render_markdown",
    "to_json",
]

MAX_COUNT = 200


@dataclass(frozen=True)
class Question:
    """One question, its answer (an int or an exact Fraction) and how the answer is derived."""

    id: int
    topic: str
    text: str
    answer: Number
    derivation: str


@dataclass(frozen=True)
class Worksheet:
    topics: tuple[str, ...]
    count: int
    seed: int
    questions: tuple[Question, ...]


# ---------------------------------------------------------------------------------------------
# Asking convcalc


def _rows(input_shape: list[int], layers: list[Any]) -> tuple[Row, ...]:
    spec = parse_spec({"name": "exercise", "input": input_shape, "layers": layers}, Source("exercise"))
    return analyze(spec).rows


def _formula(row: Row, prefix: str) -> str:
    return next(line for line in row.formulas if line.startswith(prefix))


def _hwc(shape: tuple[int, ...]) -> str:
    """``32x32x3``: height x width x channels, as the notes write shapes."""
    return "x".join(map(str, (*shape[1:], shape[0])))


def _matrix(rows: list[list[int]]) -> str:
    return "[" + ", ".join("[" + ", ".join(map(str, row)) + "]" for row in rows) + "]"


def _conv_text(filters: int, k: int, s: int, p: int, d: int = 1) -> str:
    dilated = f", dilation {d}" if d != 1 else ""
    return f"{filters} filters of {k}x{k}, stride {s}, padding {p}{dilated}"


# ---------------------------------------------------------------------------------------------
# Topics: each draws one well-posed question


def _output_size(rng: random.Random) -> tuple[str, Number, str]:
    while True:
        size, k, s, p = rng.choice((7, 28, 32, 39, 56, 64, 224, 227)), rng.choice((1, 3, 5, 7, 11)), rng.randint(1, 4), rng.randint(0, 3)
        d = rng.choice((1, 1, 1, 2))
        if (size + 2 * p - d * (k - 1) - 1) >= 0 and p <= d * (k - 1):
            break
    channels, filters = rng.choice((1, 3, 16, 64)), rng.choice((6, 10, 16, 32, 96))
    (row,) = _rows([channels, size, size], [{"conv2d": {"out_channels": filters, "kernel_size": k, "stride": s, "padding": p, "dilation": d}}])
    text = (
        f"An input of {_hwc((channels, size, size))} goes through a convolution with {_conv_text(filters, k, s, p, d)}. "
        "What is the height (= width) of its output?"
    )
    return text, row.output_shape[1], _formula(row, "H_out")


def _params(rng: random.Random) -> tuple[str, Number, str]:
    if rng.randint(0, 3) == 0:
        size, channels, units = rng.choice((4, 5, 7)), rng.choice((16, 64, 256)), rng.choice((10, 84, 120, 1000))
        rows = _rows([channels, size, size], ["flatten", {"linear": {"out_features": units}}])
        text = (
            f"A {_hwc((channels, size, size))} volume is flattened and fed to a fully connected layer of {units} units "
            "with bias. How many parameters does that layer have?"
        )
        return text, rows[-1].params, _formula(rows[-1], "params")
    channels, filters, k = rng.choice((1, 3, 6, 16, 64)), rng.choice((4, 6, 10, 16, 32, 128)), rng.choice((1, 3, 5, 7))
    bias = rng.randint(0, 3) != 0
    (row,) = _rows([channels, 32, 32], [{"conv2d": {"out_channels": filters, "kernel_size": k, "padding": k // 2, "bias": bias}}])
    text = (
        f"A convolution with {filters} filters of {k}x{k}x{channels} ({'with' if bias else 'without'} bias) "
        f"runs on a {channels}-channel input. How many parameters does it have?"
    )
    return text, row.params, _formula(row, "params")


def _macs(rng: random.Random) -> tuple[str, Number, str]:
    while True:
        size, k, s = rng.choice((6, 14, 28, 32, 56)), rng.choice((1, 3, 5)), rng.choice((1, 1, 2))
        p = rng.choice((0, k // 2))
        if size + 2 * p >= k:
            break
    channels, filters = rng.choice((3, 16, 32, 192)), rng.choice((5, 16, 32, 64))
    (row,) = _rows([channels, size, size], [{"conv2d": {"out_channels": filters, "kernel_size": k, "stride": s, "padding": p}}])
    text = (
        f"How many multiplications (multiply-accumulates, bias ignored) does a convolution with "
        f"{_conv_text(filters, k, s, p)} cost on a {_hwc((channels, size, size))} input?"
    )
    return text, row.macs, _formula(row, "MACs")


def _receptive_field(rng: random.Random) -> tuple[str, Number, str]:
    layers, described = [], []
    for _ in range(rng.randint(2, 4)):
        if rng.randint(0, 2) == 0:
            k = rng.choice((2, 3))
            layers.append({"max_pool2d": {"kernel_size": k, "stride": 2}})
            described.append(f"max pooling {k}x{k} stride 2")
        else:
            k, s = rng.choice((1, 3, 3, 5, 7)), rng.choice((1, 1, 2))
            layers.append({"conv2d": {"out_channels": 8, "kernel_size": k, "stride": s, "padding": k // 2}})
            described.append(f"conv {k}x{k} stride {s}")
    rows = _rows([3, 224, 224], layers)
    steps, before = [], (1, 1)
    for row, text in zip(rows, described):
        size, jump = row.rf[0].size, row.rf[0].jump
        k_eff = (size - before[0]) // before[1] + 1
        steps.append(f"{text}: r = {before[0]} + ({k_eff}-1)*{before[1]} = {size}, j = {jump}")
        before = (size, jump)
    question = (
        f"A stack of layers on a 224x224 image: {', then '.join(described)}. "
        "How many input pixels along one axis does the receptive field of one output of the last layer cover?"
    )
    return question, rows[-1].rf[0].size, "r_out = r_in + (k-1)*j_in, j_out = j_in*s, from r = 1, j = 1: " + "; ".join(steps)


def _padding(rng: random.Random) -> tuple[str, Number, str]:
    while True:
        size, k, s = rng.choice((7, 14, 28, 32, 56, 64, 224)), rng.choice((3, 5, 7, 9, 11)), rng.choice((1, 1, 2))
        out = -(-size // s)
        symmetric = [x for x in solve_padding(size, out, k, s) if x.kind == "symmetric"]
        if len(symmetric) == 1 and k <= size:
            break
    text = (
        f"A convolution with {'an' if k in (8, 11, 18) else 'a'} {k}x{k} kernel and stride {s} should turn a {size}x{size} input into a {out}x{out} output. "
        "What padding p (the same on every side) does it need?"
    )
    return text, symmetric[0].before, f"p = {symmetric[0].before}: {symmetric[0].derivation}"


def _pooling(rng: random.Random) -> tuple[str, Number, str]:
    x = [[rng.randint(0, 9) for _ in range(4)] for _ in range(4)]
    mode, i, j = rng.choice(("max", "avg")), rng.randint(0, 1), rng.randint(0, 1)
    setup = setup_pool(x, 2, 2, 0, mode)
    text = (
        f"X = {_matrix(x)} (4x4) goes through {mode} pooling 2x2 with stride 2. What is the pooled value at row {i}, "
        f"column {j} (counting from 0)?"
    )
    return text, setup.value(0, i, j), setup.explain(0, i, j)


def _backward(rng: random.Random) -> tuple[str, Number, str]:
    x = [[rng.randint(-2, 3) for _ in range(3)] for _ in range(3)]
    w = [[rng.randint(-2, 2) for _ in range(2)] for _ in range(2)]
    dy = [[rng.randint(-1, 2) for _ in range(2)] for _ in range(2)]
    grads = conv_backward(x, w, dy)
    intro = (
        f"Y = X cross-correlated with W (stride 1, no padding), X = {_matrix(x)}, W = {_matrix(w)}, and the upstream "
        f"gradient dL/dY = {_matrix(dy)}."
    )
    if rng.randint(0, 1):
        u, v = rng.randint(0, 1), rng.randint(0, 1)
        return f"{intro} What is dL/dW[{u},{v}]?", grads.grad_weight[u][v], grads.weight_steps[u * 2 + v]
    h, w_ = rng.randint(0, 2), rng.randint(0, 2)
    return f"{intro} What is dL/dX[{h},{w_}]?", grads.grad_input[h][w_], grads.input_steps[h * 3 + w_]


TOPICS: dict[str, Callable[[random.Random], tuple[str, Number, str]]] = {
    "output-size": _output_size,
    "params": _params,
    "macs": _macs,
    "receptive-field": _receptive_field,
    "padding": _padding,
    "pooling": _pooling,
    "backward": _backward,
}


def generate(topics: tuple[str, ...] | list[str], count: int, seed: int) -> Worksheet:
    """``count`` questions cycling through ``topics``, the same for the same seed."""
    topics = tuple(topics) or tuple(TOPICS)
    unknown = [t for t in topics if t not in TOPICS]
    if unknown:
        raise UsageError("exercises-topic", f"unknown topic {unknown[0]!r}; the topics are {', '.join(TOPICS)}")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise UsageError("exercises-count", f"the count must be between 1 and {MAX_COUNT} (MAX_COUNT), got {count!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise UsageError("exercises-seed", f"the seed must be an integer from 0 to 2**63 - 1, got {seed!r}")
    rng = random.Random(seed)
    questions = []
    for n in range(count):
        topic = topics[n % len(topics)]
        text, answer, derivation = TOPICS[topic](rng)
        questions.append(Question(n + 1, topic, text, answer, derivation))
    return Worksheet(topics, count, seed, tuple(questions))


# ---------------------------------------------------------------------------------------------
# Rendering


def _command(sheet: Worksheet) -> str:
    topics = " ".join(f"--topic {t}" for t in sheet.topics)
    return f"convcalc exercises {topics} --count {sheet.count} --seed {sheet.seed}"


def _title(sheet: Worksheet, what: str) -> str:
    return f"# {what}: {', '.join(sheet.topics)} ({sheet.count} questions, seed {sheet.seed})"


def answers_template(sheet: Worksheet) -> str:
    """The answers file to fill in: ``exercises:`` names the worksheet, one empty answer each."""
    lines = [f"exercises: {{topics: [{', '.join(sheet.topics)}], count: {sheet.count}, seed: {sheet.seed}}}", "answers:"]
    return "\n".join(lines + [f"  {q.id}: " for q in sheet.questions]) + "\n"


def render_markdown(sheet: Worksheet) -> str:
    """The worksheet: the questions, then the answers file to fill in and how to grade it."""
    lines = [_title(sheet, "Exercises"), "", f"Made by `{_command(sheet)}`; the answer key: the same command with `--key`.", ""]
    lines += [f"{q.id}. ({q.topic}) {q.text}" for q in sheet.questions]
    lines += [
        "", "## Your answers", "",
        "Fill in this file (numbers; a fraction as `\"5/2\"` or a decimal) and grade it with `convcalc check answers.yaml`:",
        "", "```yaml", answers_template(sheet).rstrip("\n"), "```",
    ]
    return "\n".join(lines) + "\n"


def render_key_markdown(sheet: Worksheet) -> str:
    """The answer key: each answer with the worked formula that gives it."""
    lines = [_title(sheet, "Answer key"), "", f"For the worksheet of `{_command(sheet)}`.", ""]
    lines += [f"{q.id}. **{format_number(q.answer)}**: `{q.derivation}`" for q in sheet.questions]
    return "\n".join(lines) + "\n"


def _json_number(value: Number) -> int | str:
    return value if isinstance(value, int) else f"{value.numerator}/{value.denominator}"


def to_json(sheet: Worksheet, key: bool = False) -> dict[str, Any]:
    """The worksheet (with ``key``: each answer and derivation) as one JSON-ready document."""
    from convcalc.report import SCHEMA_VERSION

    questions = []
    for q in sheet.questions:
        item: dict[str, Any] = {"id": q.id, "topic": q.topic, "question": q.text}
        if key:
            item.update(answer=_json_number(q.answer), derivation=q.derivation)
        questions.append(item)
    return {
        "schema_version": SCHEMA_VERSION, "topics": list(sheet.topics), "count": sheet.count, "seed": sheet.seed,
        "command": _command(sheet), "answers_file": answers_template(sheet), "questions": questions,
    }


# ---------------------------------------------------------------------------------------------
# Grading

_ANSWERS = re.compile(r"^exercises\s*:", re.MULTILINE)


def is_answers_file(text: str) -> bool:
    """True for a YAML document with a top-level ``exercises:`` key (a spec never has one)."""
    return bool(_ANSWERS.search(text))


@dataclass(frozen=True)
class Graded:
    """One answer held against the key. ``expected`` and ``actual`` are JSON-ready."""

    id: int
    ok: bool
    code: str
    message: str
    pos: Position | None
    expected: Any
    actual: Any
    derivation: str


def _bad(message: str, source: Source, path: tuple[Any, ...], key: bool = False) -> SpecError:
    return SpecError("check-answers-file", message, source.pos(path, key=key))


def _worksheet(value: Any, source: Source) -> Worksheet:
    header = value.get("exercises")
    if not isinstance(header, dict):
        raise _bad("`exercises:` is a mapping {topics: [...], count: N, seed: S}", source, ("exercises",))
    unknown = [k for k in header if k not in ("topics", "topic", "count", "seed")]
    if unknown:
        raise _bad(f"unknown key {unknown[0]!r} in exercises; the keys are topics, count, seed", source, ("exercises", unknown[0]), key=True)
    topics = header.get("topics", header.get("topic", list(TOPICS)))
    topics = [topics] if isinstance(topics, str) else topics
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise _bad("exercises topics is a list of topic names", source, ("exercises",))
    try:
        return generate(tuple(topics), header.get("count"), header.get("seed"))
    except UsageError as error:
        raise _bad(error.message, source, ("exercises",)) from None


def grade(text: str, name: str) -> tuple[Graded, ...]:
    """Every answer of an answers file against the key of its worksheet, in question order.

    A question without an answer is wrong (``check-answer-missing``); an answer that is not a
    number is ``check-answer-syntax``; a question the worksheet does not have is
    ``check-answer-unknown``. A malformed file raises ``SpecError[check-answers-file]``.
    """
    value, source = load_yaml(text, name)
    if not isinstance(value, dict):
        raise SpecError("check-answers-file", "an answers file is a mapping with `exercises:` and `answers:`", Position(name))
    extra = [k for k in value if k not in ("exercises", "answers")]
    if extra:
        raise _bad(f"unknown key {extra[0]!r}; an answers file has exercises and answers", source, (extra[0],), key=True)
    sheet = _worksheet(value, source)
    answers = value.get("answers") or {}
    if not isinstance(answers, dict):
        raise _bad("`answers:` maps question numbers to answers", source, ("answers",))
    by_id = {q.id: q for q in sheet.questions}
    graded = [
        Graded(key, False, "check-answer-unknown", f"question {key}: the worksheet has questions 1 to {sheet.count}",
               source.pos(("answers", key), key=True), None, _plain(given), "")
        for key, given in answers.items() if key not in by_id
    ]
    for q in sheet.questions:
        graded.append(_grade_one(q, answers, source))
    return tuple(sorted(graded, key=lambda g: (g.id if isinstance(g.id, int) else 0)))


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, str)) or value is None else str(value)


def _grade_one(q: Question, answers: dict[Any, Any], source: Source) -> Graded:
    right = format_number(q.answer)
    expected = _json_number(q.answer)
    where = f"question {q.id} ({q.topic})"
    if answers.get(q.id) is None:
        pos = source.pos(("answers", q.id), key=True) if q.id in answers else source.pos(("answers",), key=True)
        return Graded(q.id, False, "check-answer-missing", f"{where}: no answer; the answer is {right}", pos, expected, None, q.derivation)
    given, pos = answers[q.id], source.pos(("answers", q.id))
    try:
        number = parse_number(given)
    except UsageError:
        return Graded(q.id, False, "check-answer-syntax", f"{where}: {given!r} is not a number; the answer is {right}", pos, expected, _plain(given), q.derivation)
    if Fraction(number) == Fraction(q.answer):
        return Graded(q.id, True, "check-answer", f"{where} = {right}", pos, expected, _json_number(number), q.derivation)
    return Graded(
        q.id, False, "check-answer", f"{where}: answered {format_number(number)}, the answer is {right}", pos, expected,
        _json_number(number), q.derivation,
    )
