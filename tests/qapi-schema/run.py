#!/usr/bin/env python3
"""Golden tests of the QAPI generator (TAP output).

Every ``good-*.json`` here must pass: its ``--dump-model`` output must equal
``good-*.out``, and generating C++ from it must succeed; where ``good-*.introspect``
exists, the query-qmp-schema value generated with ``-u`` (pretty-printed) must equal it.  Every ``bad-*.json`` must
fail with exactly the text in ``bad-*.err`` (``file:line: message``).  Schemas are
processed with ``-D CONFIG_ON``; other ``.json`` files (under include/) are only
included by the cases.

    run.py                 run every case
    run.py good-enum       run some cases
    run.py --update        rewrite the expected files from the current output
"""

import argparse
import contextlib
import io
import json
import os
import re
import sys
import tempfile
from typing import List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'scripts'))

from qapi.main import main as qapi_main  # noqa: E402

DEFINES = ['-D', 'CONFIG_ON']


def run_generator(args: List[str]) -> Tuple[int, str, str]:
    out = io.StringIO()
    err = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = qapi_main(args)
    return status, out.getvalue(), err.getvalue()


def check_case(name: str, update: bool) -> List[str]:
    """Returns the problems found (empty when the case passes)."""
    schema = name + '.json'
    problems: List[str] = []
    if name.startswith('good-'):
        status, out, err = run_generator(DEFINES + ['--dump-model', schema])
        if status != 0:
            return ['unexpected failure: ' + err.strip()]
        problems += compare(name + '.out', out, update)
        with tempfile.TemporaryDirectory() as outdir:
            status, _, err = run_generator(
                DEFINES + ['--no-clang-format', '-u', '-o', outdir, schema])
            if status != 0:
                problems.append('code generation failed: ' + err.strip())
            elif update or os.path.exists(name + '.introspect'):
                problems += compare(name + '.introspect', introspection(outdir),
                                    update and os.path.exists(name + '.introspect'))
    else:
        with tempfile.TemporaryDirectory() as outdir:
            status, _, err = run_generator(
                DEFINES + ['--no-clang-format', '-o', outdir, schema])
        if status == 0:
            problems.append('unexpected success')
        problems += compare(name + '.err', err, update)
    return problems


# Command-line cases: (name, arguments, expected stderr). They check what a schema file
# cannot: a missing top file, and --modules disagreeing with the schema.
CLI_CASES = [
    ('cli-missing-schema', ['no-such-schema.json'],
     "can't read schema file 'no-such-schema.json': No such file or directory\n"),
    ('cli-modules-mismatch', ['--modules', 'sub,other', 'good-include.json'],
     'the build lists modules other, sub but the schema has good-sub, good-sub-sub; '
     'update the module list in meson.build\n'),
]


def check_cli_case(args: List[str], expected: str) -> List[str]:
    with tempfile.TemporaryDirectory() as outdir:
        status, _, err = run_generator(['--no-clang-format', '-o', outdir] + args)
    problems = [] if status != 0 else ['unexpected success']
    if err != expected:
        problems += ['stderr differs:', '--- expected', expected.rstrip('\n'), '--- actual',
                     err.rstrip('\n')]
    return problems


def introspection(outdir: str) -> str:
    """The query-qmp-schema JSON embedded in the generated qapi-introspect.cc."""
    with open(os.path.join(outdir, 'qapi-introspect.cc'), encoding='utf-8') as handle:
        text = handle.read()
    match = re.search(r'R"qapi\((.*)\)qapi"', text, re.S)
    if match is None:
        return '<no schema text in qapi-introspect.cc>\n'
    return json.dumps(json.loads(match.group(1)), indent=1) + '\n'


def compare(fname: str, actual: str, update: bool) -> List[str]:
    if update:
        with open(fname, 'w', encoding='utf-8') as handle:
            handle.write(actual)
        return []
    try:
        with open(fname, 'r', encoding='utf-8') as handle:
            expected = handle.read()
    except OSError as err:
        return ['cannot read %s: %s' % (fname, err.strerror)]
    if expected == actual:
        return []
    return ['%s differs:' % fname, '--- expected', expected.rstrip('\n'), '--- actual',
            actual.rstrip('\n')]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--update', action='store_true')
    parser.add_argument('cases', nargs='*')
    args = parser.parse_args()
    os.chdir(HERE)
    cases = args.cases or sorted(
        fname[:-5] for fname in os.listdir('.')
        if fname.endswith('.json') and fname.startswith(('good-', 'bad-')))
    cli = [] if args.cases else CLI_CASES
    print('1..%d' % (len(cases) + len(cli)))
    failed = 0
    jobs = [(name, None) for name in cases] + [(name, (cli_args, expected))
                                                for name, cli_args, expected in cli]
    for number, (name, cli_case) in enumerate(jobs, 1):
        name = name[:-5] if name.endswith('.json') else name
        if cli_case is not None:
            problems = check_cli_case(*cli_case)
        else:
            problems = check_case(name, args.update)
        if problems:
            failed += 1
            print('not ok %d - %s' % (number, name))
            for line in '\n'.join(problems).split('\n'):
                print('# ' + line)
        else:
            print('ok %d - %s' % (number, name))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
