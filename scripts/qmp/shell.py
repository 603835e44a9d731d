"""qmp-shell: an interactive QMP (and HMP) shell with QEMU's qmp-shell syntax.

    qmp-shell [-H] [-N] [-v] [-p] [-q] [-l LOGFILE] [-t SECONDS] [-w SECONDS] [ADDRESS]

ADDRESS is a unix socket path or HOST:PORT (default: $QMP_SOCKET). Each input line is

    command-name [key=value ...]

A value is an integer when it reads as one, ``true``/``false`` in any case are booleans, then
any JSON value (``1.5``, ``null``, ``"a string"``, ``[1,2]``, ``{"a":1}``), then, for text
starting with ``{`` or ``[``, a Python literal (single quotes, ``True``/``None``, with
``true``/``false``/``null`` allowed too); anything else is a plain string. Quoted parts may
contain spaces: ``name="my vm"``. Dotted keys build nested objects: ``a.b=1 a.c=2`` sends
``{"a": {"b": 1, "c": 2}}``. ``transaction(`` ... ``)`` groups actions (one per line, or all
on one line) into a ``transaction`` command. An empty line prints the events received so far.

-H runs every line as an HMP command through ``human-monitor-command`` (``cpu N`` selects the
CPU index passed along); in QMP mode a line ``-H <hmp command>`` runs a single HMP command.
-N skips ``qmp_capabilities`` (the monitor stays in negotiation mode), -v echoes each request,
-p pretty-prints JSON, -l appends each request merged with its response to LOGFILE, -q drops
the banner and prompts (for scripts), -t bounds the wait for each response, -w retries the
connection while the server starts. Interactive sessions use readline with command-name
completion and keep their history in ~/.qmp-shell_history when $HOME is writable.

Differences from QEMU 7.2's python/qemu/qmp/qmp_shell.py: ``null``, floats and quoted JSON
strings are parsed as JSON (QEMU passes them as strings), events print as JSON, the HMP CPU
index is sent only after ``cpu N``, an unterminated quote is an error, and -N still reads the
greeting (it is meant for exploring negotiation mode, not for qemu-ga).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

from .client import Message, QMPClient, parse_address
from .errors import QMPClientError, QMPConnectionError, QMPError, QMPTimeoutError

HISTORY_FILE = ".qmp-shell_history"
HISTORY_LENGTH = 1024
_INTEGER = re.compile(r"[+-]?[0-9]+")
COMMAND_FORMAT = "command format: <command-name> [arg-name1=arg1] ... [arg-nameN=argN]"


class ShellError(Exception):
    """A line that cannot be turned into a QMP request."""


# -- value and line syntax ----------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    # json.loads would accept NaN/Infinity, which are not JSON: keep such words as strings.
    raise ValueError(name)


class _JsonWords(ast.NodeTransformer):
    """Lets the Python-literal fallback accept JSON's true/false/null spellings."""

    _WORDS = {"true": True, "false": False, "null": None}

    def visit_Name(self, node: ast.Name) -> ast.AST:  # noqa: N802 (ast visitor naming)
        if node.id in self._WORDS:
            return ast.copy_location(ast.Constant(value=self._WORDS[node.id]), node)
        return node


def parse_value(text: str) -> Any:
    """Converts the text after ``key=`` into a JSON value (see the module docstring)."""
    if _INTEGER.fullmatch(text):
        return int(text)
    if text.lower() == "true":
        return True
    if text.lower() == "false":
        return False
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        pass
    if text.startswith(("{", "[")):
        try:
            tree = _JsonWords().visit(ast.parse(text, mode="eval"))
            return ast.literal_eval(tree)
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            pass
    return text


def split_words(line: str) -> List[str]:
    """Splits a line at whitespace outside quotes; quotes stay part of the word.

    Double-quoted and single-quoted runs may contain whitespace and backslash escapes.
    Raises ShellError for an unterminated quote."""
    words: List[str] = []
    current: List[str] = []
    in_word = False
    i = 0
    while i < len(line):
        c = line[i]
        if c.isspace():
            if in_word:
                words.append("".join(current))
                current = []
                in_word = False
            i += 1
            continue
        in_word = True
        if c in "\"'":
            end = i + 1
            while end < len(line) and line[end] != c:
                end += 2 if line[end] == "\\" else 1
            if end >= len(line):
                raise ShellError(f"Unterminated {c} quote in '{line[i:]}'")
            current.append(line[i : end + 1])
            i = end + 1
            continue
        current.append(c)
        i += 1
    if in_word:
        words.append("".join(current))
    return words


def add_arguments(words: Sequence[str], target: Dict[str, Any]) -> None:
    """Adds ``key=value`` words to ``target``; dotted keys create nested objects."""
    for word in words:
        key, sep, text = word.partition("=")
        if not sep:
            raise ShellError(f"Expected a key=value pair, got '{word}'")
        path = key.split(".")
        if not all(path):
            raise ShellError(f"Empty key component in '{word}'")
        parent = target
        for depth, name in enumerate(path[:-1]):
            child = parent.setdefault(name, {})
            if not isinstance(child, dict):
                leaf = ".".join(path[: depth + 1])
                raise ShellError(f'Cannot use "{leaf}" as both leaf and non-leaf key')
            parent = child
        last = path[-1]
        if last in parent:
            if isinstance(parent[last], dict):
                raise ShellError(f'Cannot use "{key}" as both leaf and non-leaf key')
            raise ShellError(f'Cannot set "{key}" multiple times')
        parent[last] = parse_value(text)


class CommandBuilder:
    """Turns input lines into QMP requests, keeping the state of a ``transaction(`` block."""

    def __init__(self) -> None:
        self.in_transaction = False
        self._actions: List[Dict[str, Any]] = []

    def build(self, line: str) -> Optional[Message]:
        """Returns the request for ``line``, or None when there is nothing to send yet (an
        empty line, or an action stored inside a transaction block). Raises ShellError."""
        words = split_words(line)
        if words and words[0] == "transaction(":
            self.in_transaction = True
            self._actions = []
            words = words[1:]
        if self.in_transaction and words and words[0] == ")":
            if len(words) > 1:
                raise ShellError("Unexpected input after close of Transaction sub-shell")
            return self._finish_transaction()
        if not words:
            return None
        if self.in_transaction:
            close = words[-1] == ")"
            if close:
                words = words[:-1]
            data: Dict[str, Any] = {}
            add_arguments(words[1:], data)
            self._actions.append({"type": words[0], "data": data})
            return self._finish_transaction() if close else None
        arguments: Dict[str, Any] = {}
        add_arguments(words[1:], arguments)
        request: Message = {"execute": words[0]}
        if arguments:
            request["arguments"] = arguments
        return request

    def _finish_transaction(self) -> Message:
        self.in_transaction = False
        actions, self._actions = self._actions, []
        return {"execute": "transaction", "arguments": {"actions": actions}}


# -- the REPL -----------------------------------------------------------------------------


class Shell:
    """Executes shell lines against a connected QMPClient and prints the results.

    ``execute`` returns False once the connection is gone. Output goes to ``out``, parse
    errors to ``err``."""

    def __init__(
        self,
        client: QMPClient,
        *,
        hmp: bool = False,
        pretty: bool = False,
        verbose: bool = False,
        logfile: Optional[TextIO] = None,
        out: TextIO = sys.stdout,
        err: TextIO = sys.stderr,
    ) -> None:
        self.client = client
        self.hmp_mode = hmp
        self.pretty = pretty
        self.verbose = verbose
        self.logfile = logfile
        self.out = out
        self.err = err
        self.cpu_index: Optional[int] = None
        self.builder = CommandBuilder()

    @property
    def prompt(self) -> str:
        return "TRANS> " if self.builder.in_transaction else "(QEMU) "

    def banner(self) -> str:
        title = "Welcome to the QMP low-level shell!"
        if self.hmp_mode:
            title = "Welcome to the HMP shell!"
        version = self.client.greeting.get("QMP", {}).get("version", {}).get("qemu")
        if not isinstance(version, dict):
            return f"{title}\nConnected\n"
        return (
            f"{title}\nConnected to QEMU "
            f"{version.get('major')}.{version.get('minor')}.{version.get('micro')}\n"
        )

    def print_json(self, value: object, stream: Optional[TextIO] = None) -> None:
        text = json.dumps(value, indent=4 if self.pretty else None, sort_keys=self.pretty)
        print(text, file=stream or self.out, flush=True)

    def execute(self, line: str) -> bool:
        """Runs one input line. Returns False when the server has gone away."""
        try:
            self._print_late_responses()
            if not line.strip() and not self.builder.in_transaction:
                for event in self.client.events():
                    self.print_json(event)
                return True
            if self.hmp_mode:
                return self._run_hmp(line)
            words = line.split(None, 1)
            if words and words[0] == "-H":
                return self._run_hmp(words[1] if len(words) > 1 else "")
            return self._run_qmp(line)
        except QMPConnectionError:
            print("Disconnected", file=self.out, flush=True)
            return False
        except QMPTimeoutError as e:
            print(f"Error: {e}", file=self.err, flush=True)
            return True

    def _print_late_responses(self) -> None:
        # A response that arrived after its command timed out belongs to that command: show
        # it rather than mistaking it for the answer to the next one.
        while self.client.pending_responses():
            print("(late response)", file=self.out)
            self.print_json(self.client.read_response())

    def _run_qmp(self, line: str) -> bool:
        try:
            request = self.builder.build(line)
        except ShellError as e:
            message = f"Error while parsing command line: {e}\n{COMMAND_FORMAT}"
            print(message, file=self.err, flush=True)
            return True
        if request is None:
            return True
        if self.verbose:
            self.print_json(request)
        response = self.client.cmd_raw(request)
        self.print_json(response)
        if self.logfile is not None:
            self.print_json({**request, **response}, self.logfile)
        return True

    def _run_hmp(self, line: str) -> bool:
        words = line.split()
        if not words:
            return True
        if words[0] == "cpu":
            if len(words) != 2 or not words[1].isdigit():
                print("cpu command takes an integer argument", file=self.out)
                return True
            index = int(words[1])
            try:
                self.client.hmp("info version", index)
            except QMPError as e:
                print(f"bad CPU index: {e.desc}", file=self.out)
                return True
            self.cpu_index = index
            return True
        request: Message = {"execute": "human-monitor-command", "arguments": {"command-line": line}}
        if self.cpu_index is not None:
            request["arguments"]["cpu-index"] = self.cpu_index
        if self.verbose:
            self.print_json(request)
        response = self.client.cmd_raw(request)
        if self.logfile is not None:
            self.print_json({**request, **response}, self.logfile)
        if "return" in response:
            result = response["return"]
            text = result if isinstance(result, str) else json.dumps(result)
            print(text, end="" if text.endswith("\n") or not text else "\n", file=self.out)
        else:
            error = response.get("error", {})
            print(f"{error.get('class')}: {error.get('desc')}", file=self.out)
        self.out.flush()
        return True

    def completions(self) -> List[str]:
        """Names offered by tab completion: QMP command names, or HMP commands."""
        try:
            if not self.hmp_mode:
                return sorted(str(c["name"]) for c in self.client.cmd("query-commands"))
            names: List[str] = []
            for row in self.client.hmp("help").split("\r\n"):
                if row and row[0] not in "[\t":
                    alternatives = row.split()[0].split("|")
                    names.append(max(alternatives, key=len))
            for row in self.client.hmp("info").split("\r\n"):
                parts = row.split()
                if len(parts) >= 2 and parts[0] == "info":
                    names.append("info " + parts[1])
            return sorted(set(names))
        except (QMPError, KeyError, TypeError):
            return []

    def repl(self, read_line: Callable[[str], str], quiet: bool = False) -> None:
        """Reads lines with ``read_line(prompt)`` until EOF or disconnection."""
        if not quiet:
            print(self.banner(), file=self.out, flush=True)
        while True:
            try:
                line = read_line("" if quiet else self.prompt)
            except EOFError:
                if not quiet:
                    print(file=self.out)
                return
            except KeyboardInterrupt:
                print(file=self.out)
                continue
            try:
                if not self.execute(line):
                    return
            except KeyboardInterrupt:
                print("(interrupted; a late response will be shown before the next command)",
                      file=self.err)


class _History:
    """readline setup for interactive sessions: completion and a history file."""

    def __init__(self, names: List[str]) -> None:
        import readline  # only for terminals: importing it changes how input() behaves

        self._readline = readline
        readline.set_history_length(HISTORY_LENGTH)
        readline.set_completer_delims("")  # command names contain '-' and '_'
        readline.set_completer(self._complete)
        readline.parse_and_bind("tab: complete")
        self._names = names
        home = os.environ.get("HOME") or os.path.expanduser("~")
        self.path: Optional[str] = None
        if home and os.path.isdir(home) and os.access(home, os.W_OK):
            self.path = os.path.join(home, HISTORY_FILE)
            try:
                readline.read_history_file(self.path)
            except FileNotFoundError:
                pass
            except OSError as e:
                print(f"qmp-shell: cannot read history {self.path}: {e}", file=sys.stderr)

    def _complete(self, text: str, state: int) -> Optional[str]:
        matches = [n for n in self._names if n.startswith(text)]
        return matches[state] if state < len(matches) else None

    def save(self) -> None:
        if self.path is None:
            return
        try:
            self._readline.write_history_file(self.path)
        except OSError as e:
            print(f"qmp-shell: cannot save history {self.path}: {e}", file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The qmp-shell command. Returns the exit status (1 when the connection fails)."""
    parser = argparse.ArgumentParser(
        prog="qmp-shell",
        description="Low-level QMP/HMP shell (QEMU qmp-shell syntax: command key=value ...).",
    )
    parser.add_argument("-H", "--hmp", action="store_true", help="use HMP (human-monitor-command)")
    parser.add_argument(
        "-N", "--skip-negotiation", action="store_true", help="do not send qmp_capabilities"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="echo each request")
    parser.add_argument("-p", "--pretty", action="store_true", help="pretty-print JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no banner, no prompt")
    parser.add_argument("-l", "--logfile", help="append requests and responses to LOGFILE")
    parser.add_argument(
        "-t", "--timeout", type=float, default=60.0, help="seconds to wait for each response"
    )
    parser.add_argument(
        "-w", "--wait", type=float, default=0.0, help="seconds to keep retrying the connection"
    )
    parser.add_argument(
        "qmp_server",
        nargs="?",
        default=os.environ.get("QMP_SOCKET"),
        help="unix socket path or HOST:PORT (default: $QMP_SOCKET)",
    )
    args = parser.parse_args(argv)
    if not args.qmp_server:
        parser.error("QMP socket or TCP address must be specified")
    try:
        address = parse_address(args.qmp_server)
    except ValueError as e:
        parser.error(str(e))

    try:
        client = QMPClient(
            address,
            timeout=args.timeout,
            connect_timeout=args.wait,
            negotiate=not args.skip_negotiation,
        )
    except QMPClientError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1

    logfile: Optional[TextIO] = None
    try:
        if args.logfile:
            logfile = open(args.logfile, "a", encoding="utf-8")
        shell = Shell(
            client, hmp=args.hmp, pretty=args.pretty, verbose=args.verbose, logfile=logfile
        )
        history = _History(shell.completions()) if sys.stdin.isatty() else None
        try:
            shell.repl(input, quiet=args.quiet)
        finally:
            if history is not None:
                history.save()
    except OSError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    finally:
        if logfile is not None:
            logfile.close()
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
