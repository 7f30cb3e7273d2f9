"""Every command documents itself, and --help needs none of the heavy libraries."""

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from recommender.cli import app

runner = CliRunner()


def commands(group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if hasattr(cmd, "commands"):  # a command group (typer ships its own click)
            yield from commands(cmd, (*prefix, name))


ALL = list(commands(typer.main.get_command(app)))


def test_there_are_commands() -> None:
    names = {" ".join(path) for path, _ in ALL}
    assert {
        "ingest",
        "build",
        "related",
        "remove",
        "sections",
        "sections list",
        "sections set",
        "settings",
        "stats",
    } <= names


@pytest.mark.parametrize(("path", "cmd"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_command_has_help(path, cmd) -> None:
    assert cmd.help and cmd.help.strip(), f"{' '.join(path)} has no help text"
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0
    for param in cmd.params:
        if param.param_type_name == "option" and param.name != "help":
            assert param.help, f"{' '.join(path)} --{param.name} has no help text"


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys; from recommender.cli import app; print('torch' in sys.modules, 'faiss' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
