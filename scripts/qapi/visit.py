"""Backend: JSON marshalling (qapi-visit-<module>.h).

For every struct, union and alternate T:

    absl::Status FromJson(const rapidjson::Value& in, InputPath& path, T* out);
    void ToJson(const T& v, rapidjson::Value* out, rapidjson::Document::AllocatorType&);

(enums, lists and builtins are runtime templates/overloads in qapi/runtime.h).  Input
follows QEMU's QObject input visitor: members are visited in schema order (base
first, then the union branch the discriminator selects), each visit consumes the
member, and once all are visited a leftover member is "unexpected".  Structs also get
``internal::FromJsonMembers``/``ToJsonMembers``, which unions use for their branches.
"""

from typing import List

from .common import c_name, cpp_string, enum_const
from .gen import ModularVisitor, type_name
from .schema import (
    QAPISchemaAlternateType,
    QAPISchemaEnumType,
    QAPISchemaModule,
    QAPISchemaObjectType,
    QAPISchemaType,
)
from .types import emits_struct

_ALLOC = 'rapidjson::Document::AllocatorType& alloc'

# How an alternate tells its branches apart: the QType, and the RapidJSON test.
_QTYPE_TEST = {
    'qnull': 'IsNull()',
    'qnum': 'IsNumber()',
    'qstring': 'IsString()',
    'qdict': 'IsObject()',
    'qlist': 'IsArray()',
    'qbool': 'IsBool()',
}


class VisitVisitor(ModularVisitor):
    what = 'visit'

    def begin_module(self, module: QAPISchemaModule) -> None:
        self._types: List[QAPISchemaType] = []

    def visit_object_type(self, typ: QAPISchemaObjectType) -> None:
        if emits_struct(typ) and self.conds.type_on(typ):
            self._types.append(typ)

    def visit_alternate_type(self, typ: QAPISchemaAlternateType) -> None:
        if self.conds.type_on(typ):
            self._types.append(typ)

    def end_module(self, module: QAPISchemaModule) -> None:
        used: List[QAPISchemaType] = []
        for typ in self._types:
            if isinstance(typ, QAPISchemaObjectType):
                used += [m.type for m in self.conds.members(typ)]
                if typ.variants is not None:
                    used += [v.type for v in typ.variants.variants]
            elif isinstance(typ, QAPISchemaAlternateType):
                used += [v.type for v in typ.variants.variants]
        project = ['qapi/input_path.h', 'qapi/runtime.h',
                   self.config.include(self.file_stem(module, 'types') + '.h')]
        project += [self.config.include(self.file_stem(mod) + '.h')
                    for mod in self.modules_used(used)]
        if module is self.schema.main_module:
            project += [self.config.include(self.file_stem(mod) + '.h')
                        for mod in self.schema.user_modules() if mod is not module]
        self.h.add(self.header_open([], ['absl/status/status.h',
                                         'rapidjson/document.h'], project))
        self.c.add('#include "%s"\n\n' % self.config.include(self.h.fname))
        self.c.add('#include <absl/status/status.h>\n\n')
        self.c.add('#include <rapidjson/document.h>\n\n')
        self.c.add('#include "qapi/input_path.h"\n#include "qapi/runtime.h"\n')
        self.c.add('#include "util/status_macros.h"\n\n')
        self.c.add('namespace migemu::qapi {\n\n')
        for typ in self._types:
            name = type_name(self.schema, typ)
            self.h.add('absl::Status FromJson(const rapidjson::Value& in, '
                       'InputPath& path, %s* out);\n' % name)
            self.h.add('void ToJson(const %s& v, rapidjson::Value* out, %s);\n\n'
                       % (name, _ALLOC))
        structs = [t for t in self._types if isinstance(t, QAPISchemaObjectType)]
        if structs:
            self.h.add('namespace internal {\n\n')
            for typ in structs:
                name = type_name(self.schema, typ)
                self.h.add('// The members of %s, visited in the current object.\n'
                           % name)
                self.h.add('absl::Status FromJsonMembers(const rapidjson::Value& in, '
                           'InputPath& path, %s* out);\n' % name)
                self.h.add('void ToJsonMembers(const %s& v, rapidjson::Value* out, '
                           '%s);\n\n' % (name, _ALLOC))
            self.h.add('}  // namespace internal\n')
        self.h.add(self.header_close())
        for typ in self._types:
            if isinstance(typ, QAPISchemaObjectType):
                self.c.add(self._gen_object(typ))
            elif isinstance(typ, QAPISchemaAlternateType):
                self.c.add(self._gen_alternate(typ))
        self.c.add('}  // namespace migemu::qapi\n')

    # -- structs and unions ---------------------------------------------------------

    def _gen_object(self, typ: QAPISchemaObjectType) -> str:
        name = type_name(self.schema, typ)
        members = self.conds.members(typ)
        out = ('absl::Status FromJson(const rapidjson::Value& in, InputPath& path, '
               '%s* out) {\n' % name)
        out += '  MIG_RETURN_IF_ERROR(path.StartObject(in));\n'
        out += '  absl::Status status = internal::FromJsonMembers(in, path, out);\n'
        out += '  if (status.ok()) {\n    status = path.CheckObject();\n  }\n'
        out += '  path.EndObject();\n  return status;\n}\n\n'
        out += 'void ToJson(const %s& v, rapidjson::Value* out, %s) {\n' % (name,
                                                                           _ALLOC)
        out += '  out->SetObject();\n  internal::ToJsonMembers(v, out, alloc);\n}\n\n'

        out += 'namespace internal {\n\n'
        out += ('absl::Status FromJsonMembers(const rapidjson::Value& in, '
                'InputPath& path, %s* out) {\n' % name)
        if not members and typ.variants is None:
            out += '  (void)in;\n  (void)path;\n  (void)out;\n'
        for member in members:
            func = 'VisitOptionalMember' if member.optional else 'VisitMember'
            out += '  MIG_RETURN_IF_ERROR(%s(in, path, %s, &out->%s));\n' % (
                func, cpp_string(member.name), c_name(member.name))
        if typ.variants is not None:
            tag = typ.variants.tag_member
            assert isinstance(tag.type, QAPISchemaEnumType)
            out += self._gen_switch(
                typ, tag.type, 'out->%s' % c_name(tag.name),
                '    return FromJsonMembers(in, path, &out->u.%s);\n')
        out += '  return absl::OkStatus();\n}\n\n'

        out += 'void ToJsonMembers(const %s& v, rapidjson::Value* out, %s) {\n' % (
            name, _ALLOC)
        if not members and typ.variants is None:
            out += '  (void)v;\n  (void)out;\n  (void)alloc;\n'
        for member in members:
            func = 'AddOptionalMember' if member.optional else 'AddMember'
            out += '  %s(out, %s, v.%s, alloc);\n' % (
                func, cpp_string(member.name), c_name(member.name))
        if typ.variants is not None:
            tag = typ.variants.tag_member
            assert isinstance(tag.type, QAPISchemaEnumType)
            out += self._gen_switch(typ, tag.type, 'v.%s' % c_name(tag.name),
                                    '    ToJsonMembers(v.u.%s, out, alloc);\n'
                                    '    break;\n')
        out += '}\n\n}  // namespace internal\n\n'
        return out

    def _gen_switch(self, typ: QAPISchemaObjectType, tag_type: QAPISchemaEnumType,
                    expr: str, action: str) -> str:
        assert typ.variants is not None
        branches = {v.name: v for v in self.conds.variants(typ.variants.variants)
                    if v.type.name != 'q_empty'}
        enum = type_name(self.schema, tag_type)
        values = [m.name for m in tag_type.members if self.conds.on(m.ifcond)]
        out = '  switch (%s) {\n' % expr
        empty = [value for value in values if value not in branches]
        for value in values:
            if value in branches:
                out += '    case %s::%s:\n' % (enum, enum_const(value))
                out += action % c_name(value)
        for value in empty:
            out += '    case %s::%s:\n' % (enum, enum_const(value))
        if empty:
            out += '      break;\n'
        out += '  }\n'
        return out

    # -- alternates -----------------------------------------------------------------

    def _gen_alternate(self, typ: QAPISchemaAlternateType) -> str:
        name = type_name(self.schema, typ)
        variants = self.conds.variants(typ.variants.variants)
        out = ('absl::Status FromJson(const rapidjson::Value& in, InputPath& path, '
               '%s* out) {\n' % name)
        for variant in variants:
            qtype = variant.type.alternate_qtype()
            assert qtype is not None
            out += '  if (in.%s) {\n' % _QTYPE_TEST[qtype]
            out += '    out->type = QType::%s;\n' % enum_const(qtype)
            if variant.type.name == 'null':
                out += '    return absl::OkStatus();\n'
            else:
                out += '    return FromJson(in, path, &out->%s);\n' % c_name(
                    variant.name)
            out += '  }\n'
        out += '  return path.AlternateTypeError(%s);\n}\n\n' % cpp_string(typ.name)

        out += 'void ToJson(const %s& v, rapidjson::Value* out, %s) {\n' % (name,
                                                                           _ALLOC)
        out += '  (void)alloc;\n'
        out += '  switch (v.type) {\n'
        for variant in variants:
            qtype = variant.type.alternate_qtype()
            assert qtype is not None
            out += '    case QType::%s:\n' % enum_const(qtype)
            if variant.type.name == 'null':
                out += '      out->SetNull();\n      return;\n'
            else:
                out += '      ToJson(v.%s, out, alloc);\n      return;\n' % c_name(
                    variant.name)
        out += '    default:\n'
        out += '      // A value never given a branch has nothing to say.\n'
        out += '      out->SetNull();\n      return;\n  }\n}\n\n'
        return out
