"""Command line: ``qapi-gen.py [-o OUTDIR] [-D SYM]... [-u] [--dump-model] SCHEMA``."""

import argparse
import os
import sys
from typing import List, Optional, Sequence

from .commands import CommandsVisitor
from .dump import dump_model
from .error import QAPIError
from .events import EventsVisitor
from .gen import GenConfig, ModularVisitor, OutputFile, check_enabled_refs, Conditions
from .gen import find_clang_format, module_files
from .introspect import gen_introspect
from .schema import QAPISchema
from .types import TypesVisitor
from .visit import VisitVisitor


def generate(schema: QAPISchema, config: GenConfig) -> List[OutputFile]:
    """Every output file, in a stable order."""
    check_enabled_refs(schema, Conditions(config.defined))
    files: List[OutputFile] = []
    visitors: List[ModularVisitor] = [TypesVisitor(schema, config),
                                      VisitVisitor(schema, config),
                                      CommandsVisitor(schema, config)]
    events = EventsVisitor(schema, config)
    visitors.append(events)
    for visitor in visitors:
        schema.visit(visitor)
        files += visitor.files
    files += events.emit_events_files()
    files += gen_introspect(schema, config)
    return files


def check_modules(schema: QAPISchema, expected: str) -> None:
    """Fails unless the schema's included modules are exactly ``expected`` (the build
    system must know every output file in advance)."""
    have = sorted(stem.lstrip('-') for stem in module_files(schema).values() if stem)
    want = sorted(name for name in expected.split(',') if name)
    if have != want:
        raise QAPIError('the build lists modules %s but the schema has %s; update '
                        'the module list in meson.build' % (', '.join(want) or 'none',
                                                            ', '.join(have) or 'none'))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description='Generate migemu C++ code from a QAPI schema.')
    parser.add_argument('-o', '--output-dir', default='',
                        help='write the output files here')
    parser.add_argument('-D', dest='defines', action='append', default=[],
                        metavar='SYMBOL',
                        help="define a config symbol for 'if' conditions")
    parser.add_argument('-u', '--unmask-non-abi-names', action='store_true',
                        help='show type names in introspection instead of numbers')
    parser.add_argument('-I', '--include-dir', default='qapi',
                        help='directory, relative to an include root, that '
                        'generated files include each other by (default: qapi)')
    parser.add_argument('--schema-name', default=None,
                        help='schema file name shown in the banner')
    parser.add_argument('--no-clang-format', action='store_true',
                        help='do not run clang-format on the output')
    parser.add_argument('--modules', default=None,
                        help='comma-separated names of the included modules the build '
                        'expects outputs for; fail if the schema has others')
    parser.add_argument('--dump-model', action='store_true',
                        help='print the checked model instead of generating')
    parser.add_argument('schema', help='the top schema file')
    args = parser.parse_args(argv)

    defined = set(args.defines)
    try:
        schema = QAPISchema(args.schema)
        if args.dump_model:
            sys.stdout.write(dump_model(schema, defined))
            return 0
        config = GenConfig(args.schema_name or args.schema, defined,
                           args.unmask_non_abi_names, args.include_dir,
                           None if args.no_clang_format else find_clang_format())
        if args.modules is not None:
            check_modules(schema, args.modules)
        files = generate(schema, config)
        outdir = args.output_dir or '.'
        os.makedirs(outdir, exist_ok=True)
        for out in files:
            out.write(outdir, config)
    except QAPIError as err:
        print(err, file=sys.stderr)
        return 1
    return 0
