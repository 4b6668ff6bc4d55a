"""The command line keeps one set of conventions: -h everywhere, help on every option, one option
name for one thing across commands (the other spelling still accepted), both language-code forms."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from mteb_hybrid.cli import main


def _commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(main)
    found = [("mteb-hybrid", main)]
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        assert command is not None, name
        found.append((f"mteb-hybrid {name}", command))
    return found


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{path} {param.opts[0]}"
        for path, command in _commands()
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert not missing, f"options without help text: {missing}"


@pytest.mark.parametrize("name", ["", *sorted(main.list_commands(click.Context(main)))])
def test_dash_h_prints_help_everywhere(name: str) -> None:
    args = [name, "-h"] if name else ["-h"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "usage:" in result.output.lower() and "-h, --help" in result.output
    if name == "run":  # mteb's own `mteb run` help, handed through unchanged
        assert "--output-folder" in result.output


@pytest.mark.parametrize("command", ["sweep", "leaderboard", "table"])
def test_tasks_is_the_documented_spelling_and_task_still_works(command: str) -> None:
    ctx = click.Context(main)
    cmd = main.get_command(ctx, command)
    documented = {p.opts[0] for p in cmd.params if isinstance(p, click.Option) and not p.hidden}
    hidden = {p.opts[0] for p in cmd.params if isinstance(p, click.Option) and p.hidden}
    assert "--tasks" in documented and "--task" in hidden
    help_text = CliRunner().invoke(main, [command, "-h"]).output
    assert "--tasks" in help_text and "--task " not in help_text


def test_leaderboard_takes_either_spelling_of_tasks(tmp_path) -> None:
    from mteb_hybrid.leaderboard import cli as board_cli

    seen = []
    for args in (
        ["--task", "A", "--task", "B"],
        ["--tasks", "A,B"],
        ["--tasks", "A", "--task", "B"],
    ):
        ctx = board_cli.leaderboard.make_context("leaderboard", [str(tmp_path), *args])
        seen.append(board_cli._task_names(*ctx.params["tasks"], *ctx.params["task_alias"]))
    assert seen == [("A", "B")] * 3


def test_language_codes_in_either_form() -> None:
    from mteb_hybrid.data.languages import either_code, either_iso3
    from mteb_hybrid.tasks import XQuADRRetrieval

    assert [either_code(c) for c in ("de", "deu", "eng", "en", "yor_Latn")] == [
        "de",
        "de",
        "en",
        "en",
        "yor_Latn",
    ]
    assert [either_iso3(c) for c in ("de", "deu", "sw", "swa")] == ["deu", "deu", "swa", "swa"]
    by_iso3 = XQuADRRetrieval(languages=["eng", "deu"])
    by_two = XQuADRRetrieval(languages=["en", "de"])
    assert by_iso3.hf_subsets == by_two.hf_subsets
    assert "eng-deu" in by_iso3.hf_subsets
    shared = XQuADRRetrieval.from_shared_options(languages=["eng", "deu", "swa"])
    assert shared.collection_languages == ["en", "de"]
    with pytest.raises(ValueError, match="has no language xx"):
        XQuADRRetrieval(languages=["en", "xx"])


def test_leaderboard_groups_take_either_form() -> None:
    from mteb_hybrid.leaderboard.cli import _parse_groups

    assert _parse_groups(("low=bn,swa,te",)) == {"low": ["ben", "swa", "tel"]}
