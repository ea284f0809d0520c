"""CI runs exactly the test command the README gives, so the two cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> dict[str, str]:
    """The commands of the README's "The two commands" block, by their comment."""
    section = ROOT.joinpath("README.md").read_text().split("## The two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None, "README has no command block under 'The two commands'"
    commands = {}
    for line in block.group(1).splitlines():
        command, _, comment = line.partition("#")
        commands[comment.strip().split(":")[0]] = command.strip()
    return commands


def _ci_commands() -> list[str]:
    lines = ROOT.joinpath(".ci/run").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_readme_names_a_main_job_and_a_test_command() -> None:
    assert _readme_commands() == {
        "the main job": "./scripts/demo",
        "the full suite": "./scripts/test",
    }


def test_ci_runs_the_readme_test_command_from_the_root_under_strict_mode() -> None:
    assert _ci_commands() == [
        "set -euo pipefail",
        'cd "$(dirname "${BASH_SOURCE[0]}")/.."',
        _readme_commands()["the full suite"],
    ]


def test_the_commands_are_executable_scripts() -> None:
    for command in _readme_commands().values():
        script = ROOT / command
        assert script.is_file() and script.stat().st_mode & 0o111, command
