"""The `spacecast` command: one entry point, one subcommand per component.

Each component module exposes `register(subparsers)`, which adds its parser and sets
`handler` to a function taking the parsed namespace and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from spacecast import __version__
from spacecast.errors import ExitCode, UserError, one_line
from spacecast.settings import env_name

S = TypeVar("S", bound=BaseSettings)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit code 2.

    A command that must report even its usage mistakes elsewhere (the session's summary) sets
    `on_error`, which is called with the message and the arguments this parser was given.
    """

    on_error: Callable[[str, list[str]], None] | None = None
    argv: list[str] = []

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self.argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        if self.on_error:
            self.on_error(message, self.argv)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {one_line(message)} (see --help; exit 2)\n")


def _flag_type(annotation: Any) -> tuple[str, Any]:
    """How argparse should read a settings field: ("bool"|"list"|"value", item type)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return "bool", bool
    if origin is dict:
        return "json", dict
    if origin in (list, tuple):
        return "list", str
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _flag_type(args[0])
    return "value", str


def _json_object(text: str) -> dict[str, Any]:
    """A flag whose setting is a mapping takes it as a JSON object, as its variable does."""
    try:
        value = json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            'not JSON: give an object, e.g. \'{"KEY": "value"}\''
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('give a JSON object, e.g. \'{"KEY": "value"}\'')
    return value


def add_settings_arguments(parser: argparse.ArgumentParser, settings: type[BaseSettings]) -> None:
    """Expose every field of a settings class as a flag, with the field's description as help.

    Flags default to None so that only what the user typed overrides the environment.
    """
    for name, field in settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        kind, _ = _flag_type(field.annotation)
        default = field.get_default(call_default_factory=True)
        env = env_name(settings, name)
        help_text = f"{field.description or ''} [default: {default}; env {env}]"
        if kind == "bool":
            parser.add_argument(
                flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        elif kind == "list":
            parser.add_argument(
                flag,
                dest=name,
                action="append",
                default=None,
                metavar=name.split("_")[-1].upper(),
                help=help_text,
            )
        elif kind == "json":
            parser.add_argument(
                flag, dest=name, default=None, type=_json_object, metavar="JSON", help=help_text
            )
        else:
            parser.add_argument(
                flag, dest=name, default=None, metavar=name.split("_")[-1].upper(), help=help_text
            )


def settings_from_args(settings: type[S], args: argparse.Namespace) -> S:
    """Build settings from the environment, overridden by the flags the user gave."""
    given = {
        name: getattr(args, name)
        for name in settings.model_fields
        if getattr(args, name, None) is not None
    }
    try:
        return settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        if field not in settings.model_fields:
            raise UserError(f"invalid settings: {first['msg']}") from None
        env = env_name(settings, field)
        flag = "--" + field.replace("_", "-")
        raise UserError(f"invalid {flag} (env {env}): {first['msg']}") from None


# Each command's module, which exposes `register(subparsers)`. Only the module of the command
# being run is imported (importing them all costs over a second, kubernetes alone most of it),
# and one broken optional component cannot take the others down at import time.
COMMANDS = {
    "simulate": "simulator.cli",
    "dev-cluster": "devcluster.cli",
    "download": "spacecast.download.cli",
    "session": "spacecast.session.cli",
    "demo": "spacecast.demo",
    "controller": "controller.cli",
}
# The extra each command needs beyond the core (pyproject.toml's optional-dependencies): an
# image installs only its own, so a command whose extra is missing must say which it is.
EXTRAS = {
    "simulate": "simulator",
    "dev-cluster": "dev-cluster",
    "download": "download",
    "session": "session",
    "demo": "demo",
    "controller": "controller",
}
OWN_PACKAGES = ("spacecast", "simulator", "devcluster", "controller")


class MissingExtra(Exception):
    def __init__(self, command: str, module: str) -> None:
        super().__init__(command, module)
        self.command, self.module = command, module

    def line(self) -> str:
        extra = EXTRAS[self.command]
        return (
            f"spacecast {self.command}: error: needs the '{extra}' extra, and {self.module} is "
            f"not installed: pip install 'spacecast[{extra}]' (exit {ExitCode.UNAVAILABLE})"
        )


def _third_party(exc: ModuleNotFoundError) -> str | None:
    """The missing module's top package: a distribution's (its extra is not installed), or one
    of ours that this installation leaves out (an image holds only what it runs). None for a
    module missing inside a package of ours that is there: that is a bug."""
    top = (exc.name or "").split(".")[0]
    return None if top in OWN_PACKAGES and _installed(top) else top or None


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except ModuleNotFoundError:
        return False


def _registrars(command: str | None = None) -> list[Callable[[Any], None]]:
    """The chosen command's registrar; with none chosen, every installed command's."""
    names = [command] if command in COMMANDS else list(COMMANDS)
    found = []
    for name in names:
        try:
            found.append(importlib.import_module(COMMANDS[name]).register)
        except ModuleNotFoundError as exc:
            if (missing := _third_party(exc)) is None:
                raise
            if command in COMMANDS:
                raise MissingExtra(name, missing) from None
            # Listing the commands: those whose extra is not installed are left out.
    return found


def _command_in(argv: Sequence[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="spacecast",
        description="Restream live X Spaces to RTMP and record them.",
    )
    parser.add_argument("--version", action="version", version=f"spacecast {__version__}")
    subparsers = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", parser_class=OneLineParser
    )
    for register in _registrars(_command_in(argv)):
        register(subparsers)
    # Extra arguments are the top parser's error even after a command took the rest: the
    # command's own hook hears of it all the same.
    chosen = subparsers.choices.get(_command_in(argv) or "")
    if isinstance(chosen, OneLineParser) and chosen.on_error:
        parser.on_error = chosen.on_error
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser(argv)
    except MissingExtra as exc:
        print(exc.line(), file=sys.stderr)
        return ExitCode.UNAVAILABLE
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        return int(args.handler(args))
    except UserError as exc:
        print(
            f"spacecast {args.command}: error: {one_line(exc.message)} (exit {exc.code})",
            file=sys.stderr,
        )
        return exc.code
    except ModuleNotFoundError as exc:  # a command that imports its extra late (kubernetes)
        if (missing := _third_party(exc)) is None or args.command not in EXTRAS:
            raise
        print(MissingExtra(args.command, missing).line(), file=sys.stderr)
        return ExitCode.UNAVAILABLE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
