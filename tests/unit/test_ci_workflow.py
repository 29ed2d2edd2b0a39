"""The public repository's CI file (.github/workflows/ci.yml) against this checkout: no GitHub
runner is here, so this is its check. Every `make` target it calls is one of the Makefile's,
every pytest path and repository script exists, the jobs together run every test folder
`make test` collects, actions are pinned, every job uploads its logs even when it fails, and the
release steps run only on tags. .ci/changelog, the release notes, is run on a repository of its own.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"
MAKEFILE = REPO_ROOT / "Makefile"
CHANGELOG = REPO_ROOT / ".ci" / "changelog"

REQUIRED_JOBS = {"unit", "e2e-geo", "chaos", "perf", "sdk-compat", "publish"}
# pytest options whose value is the next word.
PYTEST_VALUE_OPTIONS = {"-m", "-k", "-p", "-c", "--junitxml", "--durations", "--timeout"}
SHELL_WORDS = {"|", "||", "&&", ";", "2>&1", ">", "\\"}
ON_TAGS = "startsWith(github.ref, 'refs/tags/v')"

DOCUMENT: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
JOBS: dict[str, dict[str, Any]] = DOCUMENT["jobs"]


def _run_scripts() -> list[tuple[str, list[str]]]:
    """(job, words) of every command line of the `run:` steps, continuations joined."""
    lines = []
    for name, job in JOBS.items():
        for step in job["steps"]:
            script = step.get("run", "").replace("\\\n", " ")
            lines += [(name, shlex.split(line)) for line in script.splitlines() if line.strip()]
    return lines


def _make_targets() -> set[str]:
    text = MAKEFILE.read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.MULTILINE))


def _pytest_paths(words: list[str]) -> list[list[str]]:
    """The path arguments of each pytest invocation among `words`."""
    invocations: list[list[str]] = []
    for start, word in enumerate(words):
        if not word.endswith("pytest"):
            continue
        paths: list[str] = []
        skip_value = False
        for argument in words[start + 1 :]:
            if argument in SHELL_WORDS:
                break
            if skip_value:
                skip_value = False
            elif argument.startswith("-"):
                skip_value = argument in PYTEST_VALUE_OPTIONS
            else:
                paths.append(argument)
        invocations.append(paths)
    return invocations


def test_the_required_jobs_run_on_pull_requests_and_tags() -> None:
    assert set(JOBS) >= REQUIRED_JOBS
    # PyYAML reads the bare key `on` as the boolean true (YAML 1.1).
    triggers = DOCUMENT.get("on", DOCUMENT.get(True))
    assert "pull_request" in triggers
    assert any(tag.startswith("v") for tag in triggers["push"]["tags"])


def test_every_make_target_exists() -> None:
    targets = _make_targets()
    called = []
    for job, words in _run_scripts():
        for at, word in enumerate(words):
            if word == "make":
                following = words[at + 1 :]
                first = next((w for w in following if "=" not in w), "")
                called.append((job, first))
    assert called
    assert [(job, t) for job, t in called if t not in targets] == []


def test_every_pytest_path_and_script_exists() -> None:
    invocations = 0
    for job, words in _run_scripts():
        for paths in _pytest_paths(words):
            invocations += 1
            assert paths, f"{job}: name the test folders"
            for path in paths:
                assert (REPO_ROOT / path).exists(), f"{job}: {path} does not exist"
        for word in words:
            if word.startswith(".ci/"):
                assert os.access(REPO_ROOT / word, os.X_OK), f"{job}: {word} is not executable"
    assert invocations


def test_the_jobs_run_every_test_folder_make_test_collects() -> None:
    run = {
        path.rstrip("/") for _, words in _run_scripts() for p in _pytest_paths(words) for path in p
    }
    # tests/perf is in pyproject's norecursedirs: its scripts run as `make bench`.
    collected = {
        str(folder.relative_to(REPO_ROOT))
        for folder in (REPO_ROOT / "tests").iterdir()
        if folder.is_dir() and any(folder.glob("test_*.py")) and folder.name != "perf"
    }
    assert collected - run == set()
    bench_jobs = [job for job, words in _run_scripts() if "make" in words and "bench" in words]
    assert bench_jobs == ["perf"]


def test_actions_are_pinned_and_every_job_uploads_its_logs() -> None:
    for name, job in JOBS.items():
        uses = [step["uses"] for step in job["steps"] if "uses" in step]
        for action in uses:
            ref = action.partition("@")[2]
            assert re.fullmatch(r"v\d+(\.\d+)*|[0-9a-f]{40}", ref), f"{name}: {action}"
        if name != "publish":
            uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload")]
            assert uploads and all(s.get("if") == "always()" for s in uploads), name


def test_only_a_tag_publishes() -> None:
    publish = JOBS["publish"]
    assert set(publish["needs"]) == REQUIRED_JOBS - {"publish"}
    for step in publish["steps"]:
        text = f"{step.get('uses', '')} {step.get('run', '')}"
        releases = "pypi-publish" in text or "npm publish" in text or "gh release" in text
        assert not releases or step.get("if") == ON_TAGS, step


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    result = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def _changelog(repo: Path, ref: str) -> list[str]:
    result = subprocess.run(
        [str(CHANGELOG), ref], cwd=repo, capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()


@pytest.fixture
def tagged_repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    for subject, tag in [("one", "v0.1.0"), ("two", None), ("three", "v0.2.0"), ("four", None)]:
        _git(tmp_path, "commit", "-q", "--allow-empty", "-m", subject)
        if tag:
            _git(tmp_path, "tag", tag)
    return tmp_path


def test_the_changelog_lists_the_commits_since_the_previous_tag(tagged_repo: Path) -> None:
    def subjects(lines: list[str]) -> list[str]:
        return [line[2:].rsplit(" (", 1)[0] for line in lines if line.startswith("- ")]

    v2 = _changelog(tagged_repo, "v0.2.0")
    assert v2[0] == "## Changes since v0.1.0" and subjects(v2) == ["three", "two"]
    assert subjects(_changelog(tagged_repo, "HEAD")) == ["four"]
    first = _changelog(tagged_repo, "v0.1.0")
    assert first[0] == "## Changes" and subjects(first) == ["one"]
