"""Backend: query-qmp-schema (qapi-introspect.h).

``absl::string_view QmpSchemaJson()`` returns the SchemaInfo list as compact JSON,
shaped as QEMU 7.2's: every enabled command and event in schema order, then every type
they reach in order of first use.  Types other than builtins, arrays, commands and
events are named by decimal strings in that order unless ``-u``; every integer type
shows as ``int``; a command or event without arguments (or a command without a result)
refers to the empty object type.
"""

import json
from typing import Dict, List, Optional

from .gen import Conditions, GenConfig, OutputFile, banner, include_guard
from .schema import (
    QAPISchema,
    QAPISchemaAlternateType,
    QAPISchemaArrayType,
    QAPISchemaBuiltinType,
    QAPISchemaCommand,
    QAPISchemaEnumType,
    QAPISchemaEvent,
    QAPISchemaFeature,
    QAPISchemaObjectType,
    QAPISchemaObjectTypeMember,
    QAPISchemaType,
    QAPISchemaVisitor,
)

SchemaInfo = Dict[str, object]


class IntrospectVisitor(QAPISchemaVisitor):

    def __init__(self, schema: QAPISchema, config: GenConfig) -> None:
        self.schema = schema
        self.config = config
        self.conds = Conditions(config.defined)
        self.infos: List[SchemaInfo] = []
        self._used: List[QAPISchemaType] = []
        self._names: Dict[str, str] = {}

    def _name(self, name: str) -> str:
        if self.config.unmask:
            return name
        if name not in self._names:
            self._names[name] = str(len(self._names))
        return self._names[name]

    def _use_type(self, typ: QAPISchemaType) -> str:
        if typ.json_type() == 'int':
            found = self.schema.lookup_type('int')
            assert found is not None
            typ = found
        elif (isinstance(typ, QAPISchemaArrayType)
              and typ.element_type.json_type() == 'int'):
            found = self.schema.lookup_type('intList')
            assert found is not None
            typ = found
        if typ not in self._used:
            self._used.append(typ)
        if isinstance(typ, QAPISchemaBuiltinType):
            return typ.name
        if isinstance(typ, QAPISchemaArrayType):
            return '[' + self._use_type(typ.element_type) + ']'
        return self._name(typ.name)

    def _features(self, features: List[QAPISchemaFeature]) -> List[str]:
        return [f.name for f in features if self.conds.on(f.ifcond)]

    def _add(self, name: str, meta: str, obj: SchemaInfo,
             features: Optional[List[QAPISchemaFeature]] = None) -> None:
        if meta not in ('command', 'event', 'builtin', 'array'):
            name = self._name(name)
        info: SchemaInfo = {'name': name, 'meta-type': meta}
        info.update(obj)
        feats = self._features(features or [])
        if feats:
            info['features'] = feats
        self.infos.append(info)

    def visit_command(self, cmd: QAPISchemaCommand) -> None:
        if not self.conds.on(cmd.ifcond):
            return
        empty = self.schema.the_empty_object_type
        obj: SchemaInfo = {
            'arg-type': self._use_type(cmd.arg_type or empty),
            'ret-type': self._use_type(cmd.ret_type or empty),
        }
        if cmd.allow_oob:
            obj['allow-oob'] = True
        self._add(cmd.name, 'command', obj, cmd.features)

    def visit_event(self, event: QAPISchemaEvent) -> None:
        if not self.conds.on(event.ifcond):
            return
        empty = self.schema.the_empty_object_type
        self._add(event.name, 'event',
                  {'arg-type': self._use_type(event.arg_type or empty)},
                  event.features)

    def visit_end(self) -> None:
        index = 0
        while index < len(self._used):
            self._gen_type(self._used[index])
            index += 1

    def _gen_type(self, typ: QAPISchemaType) -> None:
        if isinstance(typ, QAPISchemaBuiltinType):
            self._add(typ.name, 'builtin', {'json-type': typ.json_type()})
        elif isinstance(typ, QAPISchemaEnumType):
            values = [m for m in typ.members if self.conds.on(m.ifcond)]
            members: List[SchemaInfo] = []
            for value in values:
                member: SchemaInfo = {'name': value.name}
                feats = self._features(value.features)
                if feats:
                    member['features'] = feats
                members.append(member)
            self._add(typ.name, 'enum',
                      {'members': members, 'values': [v.name for v in values]},
                      typ.features)
        elif isinstance(typ, QAPISchemaArrayType):
            element = self._use_type(typ.element_type)
            self._add('[' + element + ']', 'array', {'element-type': element})
        elif isinstance(typ, QAPISchemaObjectType):
            obj: SchemaInfo = {'members': [self._member(m) for m in
                                           self.conds.members(typ)]}
            if typ.variants is not None:
                obj['tag'] = typ.variants.tag_member.name
                obj['variants'] = [
                    {'case': v.name, 'type': self._use_type(v.type)}
                    for v in self.conds.variants(typ.variants.variants)]
            self._add(typ.name, 'object', obj, typ.features)
        elif isinstance(typ, QAPISchemaAlternateType):
            self._add(typ.name, 'alternate', {'members': [
                {'type': self._use_type(v.type)}
                for v in self.conds.variants(typ.variants.variants)]},
                typ.features)

    def _member(self, member: QAPISchemaObjectTypeMember) -> SchemaInfo:
        obj: SchemaInfo = {'name': member.name,
                           'type': self._use_type(member.type)}
        if member.optional:
            obj['default'] = None
        feats = self._features(member.features)
        if feats:
            obj['features'] = feats
        return obj


def gen_introspect(schema: QAPISchema, config: GenConfig) -> List[OutputFile]:
    visitor = IntrospectVisitor(schema, config)
    schema.visit(visitor)
    text = json.dumps(visitor.infos, separators=(',', ':'))
    h = OutputFile('qapi-introspect.h', banner(config, 'introspect'))
    c = OutputFile('qapi-introspect.cc', banner(config, 'introspect'))
    guard = include_guard(config, h.fname)
    h.add('#ifndef %s\n#define %s\n\n#include <absl/strings/string_view.h>\n\n'
          'namespace migemu::qapi {\n\n' % (guard, guard))
    h.add('// QmpSchemaJson returns the value of query-qmp-schema: the SchemaInfo '
          'list as compact\n// JSON text (static storage).\n')
    h.add('absl::string_view QmpSchemaJson();\n\n')
    h.add('}  // namespace migemu::qapi\n\n#endif  // %s\n' % guard)
    c.add('#include "%s"\n\n#include <absl/strings/string_view.h>\n\n'
          % config.include(h.fname))
    c.add('namespace migemu::qapi {\nnamespace {\n\n')
    c.add('// clang-format off\nconstexpr char kSchema[] = R"qapi(%s)qapi";\n'
          '// clang-format on\n\n' % text)
    c.add('}  // namespace\n\nabsl::string_view QmpSchemaJson() {\n'
          '  return absl::string_view(kSchema, sizeof(kSchema) - 1);\n}\n\n'
          '}  // namespace migemu::qapi\n')
    return [h, c]
