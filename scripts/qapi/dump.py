"""``--dump-model``: a stable text rendering of the checked model.

The golden tests in tests/qapi-schema/ compare it.  One line per entity (modules, then
their entities in source order) and indented lines for members, branches, conditions
and features.  Conditions are shown with their value for the ``-D`` symbols given:
``if all(CONFIG_A, not(CONFIG_B)) -> false``.
"""

from typing import List, Optional, Set

from .schema import (
    IfCond,
    QAPISchema,
    QAPISchemaAlternateType,
    QAPISchemaArrayType,
    QAPISchemaCommand,
    QAPISchemaEnumType,
    QAPISchemaEvent,
    QAPISchemaFeature,
    QAPISchemaInclude,
    QAPISchemaObjectType,
    QAPISchemaVariants,
    QAPISchemaVisitor,
)


class _DumpVisitor(QAPISchemaVisitor):

    def __init__(self, defined: Set[str]) -> None:
        self._defined = defined
        self.lines: List[str] = []

    def _out(self, text: str) -> None:
        self.lines.append(text)

    def _if(self, ifcond: IfCond, indent: int = 4) -> None:
        if ifcond.is_present():
            value = 'true' if ifcond.evaluate(self._defined) else 'false'
            self._out('%sif %s -> %s' % (' ' * indent, ifcond.text(), value))

    def _features(self, features: List[QAPISchemaFeature],
                  indent: int = 4) -> None:
        for feat in features:
            self._out('%sfeature %s' % (' ' * indent, feat.name))
            self._if(feat.ifcond, indent + 4)

    def _variants(self, variants: Optional[QAPISchemaVariants]) -> None:
        if variants is None:
            return
        self._out('    tag %s' % variants.tag_member.name)
        for variant in variants.variants:
            self._out('    case %s: %s' % (variant.name, variant.type.name))
            self._if(variant.ifcond, 8)

    def visit_module(self, name: str) -> None:
        self._out('module %s' % name)

    def visit_include(self, include: QAPISchemaInclude) -> None:
        self._out('include %s' % include.sub_module.name)

    def visit_enum_type(self, typ: QAPISchemaEnumType) -> None:
        self._out('enum %s' % typ.name)
        if typ.prefix:
            self._out('    prefix %s' % typ.prefix)
        for value in typ.members:
            self._out('    member %s' % value.name)
            self._if(value.ifcond, 8)
            self._features(value.features, 8)
        self._if(typ.ifcond)
        self._features(typ.features)

    def visit_array_type(self, typ: QAPISchemaArrayType) -> None:
        if typ.info is None:
            return  # the builtin arrays are always there; keep the dump short
        self._out('array %s %s' % (typ.name, typ.element_type.name))
        self._if(typ.element_type.ifcond)

    def visit_object_type(self, typ: QAPISchemaObjectType) -> None:
        self._out('object %s' % typ.name)
        if typ.base is not None:
            self._out('    base %s' % typ.base.name)
        for member in typ.local_members:
            self._out('    member %s: %s optional=%s'
                      % (member.name, member.type.name, member.optional))
            self._if(member.ifcond, 8)
            self._features(member.features, 8)
        self._variants(typ.variants)
        self._if(typ.ifcond)
        self._features(typ.features)

    def visit_alternate_type(self, typ: QAPISchemaAlternateType) -> None:
        self._out('alternate %s' % typ.name)
        self._variants(typ.variants)
        self._if(typ.ifcond)
        self._features(typ.features)

    def visit_command(self, cmd: QAPISchemaCommand) -> None:
        self._out('command %s %s -> %s' % (
            cmd.name, cmd.arg_type.name if cmd.arg_type else None,
            cmd.ret_type.name if cmd.ret_type else None))
        self._out('    gen=%s success_response=%s boxed=%s oob=%s preconfig=%s'
                  ' coroutine=%s' % (cmd.gen, cmd.success_response, cmd.boxed,
                                     cmd.allow_oob, cmd.allow_preconfig,
                                     cmd.coroutine))
        self._if(cmd.ifcond)
        self._features(cmd.features)

    def visit_event(self, event: QAPISchemaEvent) -> None:
        self._out('event %s %s' % (
            event.name, event.arg_type.name if event.arg_type else None))
        self._out('    boxed=%s' % event.boxed)
        self._if(event.ifcond)
        self._features(event.features)


def dump_model(schema: QAPISchema, defined: Set[str]) -> str:
    """The dump text (ends with a newline)."""
    visitor = _DumpVisitor(defined)
    schema.visit(visitor)
    for doc in schema.docs:
        if doc.symbol is None:
            continue
        visitor.lines.append('doc %s' % doc.symbol)
        for arg in doc.args:
            visitor.lines.append('    arg %s' % arg)
        for section in doc.sections:
            visitor.lines.append('    section %s' % section)
    return '\n'.join(visitor.lines) + '\n'
