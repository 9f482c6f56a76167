"""README's "Use" section stays true.

- Every `vrift ...` line of its command blocks parses with the real parser:
  verbs and options exist (no abbreviations), nothing is left over, exporter
  options parse with their exporter, `--fail-if` rules are valid.
- Every option its comments name exists, on that line's verb or on the verb
  named just before it ("show --hot").
- The `show` sample is exactly what `vrift profile show` prints for the demo
  run it came from. docs/show-sample.json is that run's
  `vrift profile export --format json` (hot paths dropped: show without --hot
  does not read them); `show` prints for a session what its renderer makes of
  the session's JSON export (checked here on a real session), so rendering the
  JSON is rendering the run. After changing what `show` prints, run
  scripts/demo, export its session to docs/show-sample.json and paste the new
  box into README.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import vrift
from vrift_cli.main import SubParser, build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SAMPLE_JSON = ROOT / "docs" / "show-sample.json"
# Fixed so the box and its start time read the same anywhere.
SHOW_ENV = {"COLUMNS": "80", "TZ": "UTC"}
RENDER = (
    "import sys\n"
    "from vrift_profile import load\n"
    "from vrift_cli.render import render_show\n"
    "print(render_show(load(sys.argv[1])))\n"  # what `profile show` prints, defaults as there
)


def use_section() -> str:
    text = README.read_text()
    m = re.search(r"^## Use\n(.*?)(?=^## )", text, re.M | re.S)
    assert m, "README has no '## Use' section"
    return m.group(1)


def command_lines() -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```", use_section(), re.M | re.S)
    lines = [line for b in blocks for line in b.splitlines() if line.strip()]
    assert len(lines) > 20
    return lines


def show_sample() -> str:
    m = re.search(r"A sample of `vrift profile show`.*?^```\n(.*?)^```", use_section(), re.M | re.S)
    assert m, "no show sample in the Use section"
    return m.group(1)


def commands_of(line: str) -> tuple[list[list[str]], str]:
    """The vrift invocations a README line shows, in the README's notation
    (`A | B` alternatives, `[OPTIONAL]` parts, shell around them), and its comment."""
    m = re.fullmatch(r"(.*?)\s{2,}#\s(.*)", line)
    code, comment = m.groups() if m else (line, "")
    words = shlex.split(code)
    if words[0] == "eval":  # eval "$(vrift completion bash)"
        words = shlex.split(words[1].removeprefix("$(").removesuffix(")"))
    while re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value vrift ...
        words = words[1:]
    if ">" in words:  # shell redirection
        words = words[: words.index(">")]
    alternatives, current = [], []
    for w in [*words, "|"]:
        if w != "|":
            current.append(w.removeprefix("[").removesuffix("]"))
            continue
        if alternatives and current[0] != "vrift":  # `vrift profile stop | reset`
            current = alternatives[0][:-1] + current
        alternatives.append(current)
        current = []
    for argv in alternatives:
        assert argv[0] == "vrift", line
    return [argv[1:] for argv in alternatives], comment


def strict(parser: argparse.ArgumentParser) -> None:
    """No abbreviations: `--hot` must not pass for a renamed `--hot-paths`."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                strict(sub)


def verb_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser of the verb argv names, and its sibling verbs by name."""
    parser, siblings = build_parser(), {}
    for word in argv:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            break
        siblings, parser = subs[0].choices, subs[0].choices[word]
    return parser, siblings


def parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    strict(parser)
    try:
        args, rest = parser.parse_known_args(argv)
    except SystemExit as e:
        if argv == ["--version"] and e.code == 0:
            return argparse.Namespace()
        raise AssertionError(f"`vrift {shlex.join(argv)}` does not parse") from None
    if getattr(args, "accepts_extra", False):  # export: the exporter parses its own options
        from vrift_profile import ExporterRegistry

        sub = SubParser(prog="export", allow_abbrev=False)
        ExporterRegistry().get(args.format).add_arguments(sub)
        try:
            sub.parse_args(rest)
        except SystemExit:
            raise AssertionError(f"`vrift {shlex.join(argv)}`: {rest} not options of {args.format}") from None
    else:
        assert not rest, f"`vrift {shlex.join(argv)}`: unknown {rest}"
    return args


@pytest.mark.parametrize("line", command_lines())
def test_use_line_parses(line: str, capsys: pytest.CaptureFixture):
    from vrift_profile.diff import Threshold

    for argv in commands_of(line)[0]:
        args = parse(argv)
        for rule in getattr(args, "fail_if", []):
            Threshold.parse(rule)  # raises on a rule the verb would refuse


@pytest.mark.parametrize("line", [line for line in command_lines() if re.search(r"#.*\s\(?-", line)])
def test_options_named_in_comments_exist(line: str):
    commands, comment = commands_of(line)
    own, siblings = verb_parser(commands[0])
    named = re.findall(r"(?:\b([a-z]+) )?(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", comment)
    assert named, comment
    for verb, option in named:
        parser = siblings.get(verb, own)
        assert option in parser._option_string_actions, f"{parser.prog} has no {option} ({line})"


def test_a_removed_option_fails_the_check():
    """The check bites: an option the parser does not have is refused."""
    with pytest.raises(AssertionError):
        parse(["profile", "show", "--hot", "20", "--by-commands"])
    with pytest.raises(AssertionError):
        parse(["profile", "start", "--hot"])  # an abbreviation of --hot-paths
    with pytest.raises(AssertionError):
        parse(["profile", "export", "--format", "otel", "--endpoints", "x"])


def render_json(path: Path) -> str:
    r = subprocess.run(
        [sys.executable, "-c", RENDER, str(path)],
        env=dict(os.environ, **SHOW_ENV),
        capture_output=True,
        text=True,
        check=True,
    )
    return r.stdout


def test_show_prints_what_its_renderer_makes_of_the_json_export(sample_session: Path, tmp_path: Path):
    exported = tmp_path / "s.json"
    vrift("profile", "export", "--path", str(sample_session), "-o", str(exported))
    shown = vrift("profile", "show", "--path", str(sample_session), env=dict(os.environ, **SHOW_ENV)).stdout
    assert shown == render_json(exported)
    assert "Syscall Stats" in shown


def test_show_sample_is_what_show_prints_for_that_run():
    sample = show_sample()
    assert sample == render_json(SAMPLE_JSON)
    doc = json.loads(SAMPLE_JSON.read_text())
    assert doc["session"]["path"] in sample  # the File: line names the demo's session
    assert {len(line) for line in sample.splitlines()} == {80}  # "an 80-column terminal"
