"""``convcalc exercises`` worksheets and their grading by ``convcalc check``.

Golden: seed 1 (every topic once) in ``tests/exercises/``; its seven answers are worked out by
hand below, so the golden file is not just convcalc agreeing with itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from convcalc.errors import SpecError, UsageError
from convcalc.teach.exercises import TOPICS, answers_template, generate, grade, render_key_markdown, render_markdown

GOLDEN = Path(__file__).parent / "exercises"

SEED_1_BY_HAND = [
    (32 + 2 * 2 - 1 * (11 - 1) - 1) // 1 + 1,  # output size: 32x32x64, 11x11, stride 1, padding 2
    6 * 16 * 1 * 1 + 6,  # params: 6 filters of 1x1x16 with bias
    4 * 4 * 32 * 192 * 3 * 3,  # MACs: 6x6x192, 32 filters of 3x3, no padding -> 4x4x32
    1 + (2 - 1) * 1 + (1 - 1) * 2 + (2 - 1) * 2 + (3 - 1) * 4,  # RF: pool 2 s2, conv 1, pool 2 s2, conv 3
    1,  # padding: 64 -> 32 with 3x3 stride 2: floor((64 + 2*1 - 2 - 1) / 2) + 1 = 32
    max(0, 6, 2, 4),  # pooling: the bottom-right 2x2 window
    2 * 3 + 2 * (-1) + 0 * 0 + 1 * 2,  # backward: dL/dW[0,1] = sum dY[i,j] * x[i, j+1]
]


def answers_file(topics, count, seed, answers) -> str:
    lines = [f"exercises: {{topics: [{', '.join(topics)}], count: {count}, seed: {seed}}}", "answers:"]
    return "\n".join(lines + [f"  {i}: {json.dumps(a) if isinstance(a, str) else a}" for i, a in answers.items()]) + "\n"


def test_seed_1_worksheet_is_stable():
    sheet = generate((), 7, 1)
    assert render_markdown(sheet) == (GOLDEN / "seed1.md").read_text()
    assert render_key_markdown(sheet) == (GOLDEN / "seed1_key.md").read_text()
    assert [q.topic for q in sheet.questions] == list(TOPICS)


def test_seed_1_answers_worked_by_hand():
    assert [q.answer for q in generate((), 7, 1).questions] == SEED_1_BY_HAND


@pytest.mark.parametrize("seed", [1, 2, 3, 42])
def test_every_derivation_ends_in_its_answer(seed):
    """The key's formula and its answer are one computation: the last number of the line."""
    from convcalc.teach.handcalc import format_number

    for q in generate((), 28, seed).questions:
        answer = re.escape(format_number(q.answer))
        pattern = rf"^p = {answer}: " if q.topic == "padding" else rf"= {answer}(?:, j = \d+)?$"
        assert re.search(pattern, q.derivation), (q.topic, q.derivation)


def test_same_seed_same_sheet_other_seed_other_sheet():
    assert generate(("macs",), 5, 9) == generate(("macs",), 5, 9)
    assert generate(("macs",), 5, 9) != generate(("macs",), 5, 10)


def test_key_graded_by_check_passes(run_cli, tmp_path):
    sheet = generate((), 14, 1)
    path = tmp_path / "answers.yaml"
    path.write_text(answers_file(sheet.topics, 14, 1, {q.id: str(q.answer) for q in sheet.questions}))
    code, out, err = run_cli("check", str(path))
    assert code == 0, out + err
    assert out.endswith("answers.yaml: 14 expectations, 0 budgets: all hold\n")


def test_two_wrong_answers_exit_1_naming_both(run_cli, tmp_path):
    sheet = generate((), 7, 1)
    given = {q.id: q.answer for q in sheet.questions}
    given[2], given[5] = 100, 2
    path = tmp_path / "answers.yaml"
    path.write_text(answers_file(sheet.topics, 7, 1, given))
    code, out, _ = run_cli("check", str(path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{path}:4:6: error[check-answer]: question 2 (params): answered 100, the answer is 102"
    assert lines[1] == "    params = C_out*(C_in/groups)*k*k + C_out = 6*(16/1)*1*1 + 6 = 102"
    assert lines[2] == f"{path}:7:6: error[check-answer]: question 5 (padding): answered 2, the answer is 1"
    assert lines[3] == "    p = 1: floor((64 + 2*1 - 1*(3-1) - 1) / 2) + 1 = 32"
    assert lines[-1] == "answers.yaml: 7 expectations, 0 budgets: 2 failed".replace("answers.yaml", str(path))
    code, out, _ = run_cli("check", str(path), "--format", "json")
    errors = json.loads(out)["files"][0]["errors"]
    assert [(e["expected"], e["actual"]) for e in errors] == [(102, 100), (1, 2)]


def test_fractions_decimals_missing_and_unknown_answers():
    sheet = generate(("pooling",), 2, 1)
    assert [q.answer for q in sheet.questions] == [9, pytest.approx(3.5)]  # max, then an avg of 1 + 5 + 0 + 8
    for answer in ("7/2", "3.5", 3.5):
        graded = grade(answers_file(("pooling",), 2, 1, {1: 9, 2: answer}), "a.yaml")
        assert [g.ok for g in graded] == [True, True]
    graded = grade(answers_file(("pooling",), 2, 1, {1: "nine", 3: 1}), "a.yaml")
    assert [(g.id, g.code, g.ok) for g in graded] == [(1, "check-answer-syntax", False), (2, "check-answer-missing", False), (3, "check-answer-unknown", False)]
    assert graded[1].message == "question 2 (pooling): no answer; the answer is 3.5"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exercises: 3\n", "`exercises:` is a mapping {topics: [...], count: N, seed: S}"),
        ("exercises: {topics: [sizes], count: 2, seed: 1}\n", "unknown topic 'sizes'"),
        ("exercises: {count: 0, seed: 1}\n", "the count must be between 1 and 200"),
        ("exercises: {count: 2, seed: 1}\nanswers: [1, 2]\n", "`answers:` maps question numbers to answers"),
        ("exercises: {count: 2, seed: 1}\nanswer: {}\n", "unknown key 'answer'"),
    ],
)
def test_malformed_answers_file(text, message):
    with pytest.raises(SpecError) as info:
        grade(text, "a.yaml")
    assert info.value.code == "check-answers-file"
    assert message in info.value.message
    assert info.value.pos is not None and info.value.pos.file == "a.yaml"


def test_malformed_answers_file_through_check(run_cli, tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text("exercises: {topics: [sizes], count: 2, seed: 1}\n")
    code, out, _ = run_cli("check", str(path))
    assert code == 1
    assert out.startswith(f"{path}:1:12: error[check-answers-file]: unknown topic 'sizes'")


def test_command_markdown_json_and_file(run_cli, tmp_path):
    code, out, err = run_cli("exercises", "--topic", "backward", "--count", "2", "--seed", "3")
    assert code == 0, err
    assert out.startswith("# Exercises: backward (2 questions, seed 3)\n")
    assert answers_template(generate(("backward",), 2, 3)) in out
    code, out, _ = run_cli("exercises", "-t", "padding", "-n", "1", "--seed", "3", "--key", "--format", "json")
    document = json.loads(out)
    assert document["questions"][0]["topic"] == "padding"
    assert isinstance(document["questions"][0]["answer"], int) and document["questions"][0]["derivation"].startswith("p = ")
    target = tmp_path / "sheet.md"
    code, out, _ = run_cli("exercises", "-n", "3", "-o", str(target))
    assert (code, out) == (0, "")
    assert target.read_text() == render_markdown(generate((), 3, 1))


@pytest.mark.parametrize(
    ("args", "code"),
    [(["--count", "0"], 2), (["--count", "201"], 2), (["--topic", "sizes"], 2), (["--seed", "-1"], 2)],
)
def test_command_usage_errors(run_cli, args, code):
    exit_code, _, err = run_cli("exercises", *args)
    assert exit_code == code
    assert "Traceback" not in err


def test_library_errors():
    with pytest.raises(UsageError, match="between 1 and 200"):
        generate((), 0, 1)
    with pytest.raises(UsageError, match="unknown topic"):
        generate(("sizes",), 1, 1)
