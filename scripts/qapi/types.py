"""Backend: C++ types (qapi-types-<module>.h).

enum -> ``enum class`` + ``EnumTraits`` specialisation; struct -> plain aggregate
with base members flattened first and ``std::optional`` for optional members; union
-> the same plus ``struct Variants { ... } u``; alternate -> ``QType type`` plus one
member per non-null branch; arrays -> ``std::vector``.  Within a header, types are
ordered so that every by-value member's type comes first.
"""

from typing import Dict, List, Set, Tuple

from .common import c_name, cpp_string, enum_const
from .error import QAPISemError
from .gen import (
    ModularVisitor,
    doc_comment,
    implicit_owner,
    member_doc,
    type_name,
)
from .schema import (
    QAPISchemaAlternateType,
    QAPISchemaArrayType,
    QAPISchemaEnumType,
    QAPISchemaModule,
    QAPISchemaObjectType,
    QAPISchemaType,
)


class _Cycle(Exception):
    """A type reached again while its own dependencies are being ordered."""

    def __init__(self, typ: QAPISchemaType) -> None:
        super().__init__(typ.name)
        self.typ = typ


def emits_struct(typ: QAPISchemaType) -> bool:
    """Whether an object type gets its own C++ struct (implicit union bases are
    flattened into their union, q_empty is nothing)."""
    if not isinstance(typ, QAPISchemaObjectType):
        return False
    return typ.name != 'q_empty' and not typ.name.endswith('-base')


class TypesVisitor(ModularVisitor):
    what = 'types'

    def begin_module(self, module: QAPISchemaModule) -> None:
        self._defs: List[QAPISchemaType] = []

    def visit_enum_type(self, typ: QAPISchemaEnumType) -> None:
        if self.conds.type_on(typ):
            self._defs.append(typ)

    def visit_object_type(self, typ: QAPISchemaObjectType) -> None:
        if emits_struct(typ) and self.conds.type_on(typ):
            self._defs.append(typ)

    def visit_alternate_type(self, typ: QAPISchemaAlternateType) -> None:
        if self.conds.type_on(typ):
            self._defs.append(typ)

    def _deps(self, typ: QAPISchemaType) -> List[Tuple[QAPISchemaType, bool]]:
        """(type, by_value) pairs this type's definition refers to."""
        refs: List[QAPISchemaType] = []
        if isinstance(typ, QAPISchemaObjectType):
            refs += [m.type for m in self.conds.members(typ)]
            if typ.variants is not None:
                refs += [v.type for v in self.conds.variants(typ.variants.variants)]
        elif isinstance(typ, QAPISchemaAlternateType):
            refs += [v.type for v in self.conds.variants(typ.variants.variants)]
        deps: List[Tuple[QAPISchemaType, bool]] = []
        for ref in refs:
            if isinstance(ref, QAPISchemaArrayType):
                deps.append((ref.element_type, False))
            else:
                deps.append((ref, True))
        return deps

    def _ordered(self) -> List[QAPISchemaType]:
        """The definitions, each after the types it uses.  A by-value use must come
        first; a use through std::vector only preferably (a vector of a forward-declared
        type is fine), so list uses are dropped when they would close a cycle."""
        try:
            return self._topo_sort(follow_lists=True)
        except _Cycle:
            pass
        try:
            return self._topo_sort(follow_lists=False)
        except _Cycle as cycle:
            raise QAPISemError(cycle.typ.info, "%s contains itself by value; C++ "
                               "cannot represent that" % cycle.typ.describe()) from None

    def _topo_sort(self, follow_lists: bool) -> List[QAPISchemaType]:
        local = {id(t) for t in self._defs}
        state: Dict[int, int] = {}  # 1 = in progress, 2 = done
        order: List[QAPISchemaType] = []

        def visit(typ: QAPISchemaType) -> None:
            state[id(typ)] = 1
            for dep, by_value in self._deps(typ):
                if id(dep) not in local or not (by_value or follow_lists):
                    continue
                if state.get(id(dep)) == 1:
                    raise _Cycle(dep)
                if id(dep) not in state:
                    visit(dep)
            state[id(typ)] = 2
            order.append(typ)

        for typ in self._defs:
            if id(typ) not in state:
                visit(typ)
        return order

    def end_module(self, module: QAPISchemaModule) -> None:
        ordered = self._ordered()
        used: List[QAPISchemaType] = []
        for typ in ordered:
            used += [dep for dep, _ in self._deps(typ)]
        system = ['cstddef', 'cstdint', 'optional', 'string', 'vector']
        if any(isinstance(t, QAPISchemaEnumType) and not self._values(t)
               for t in ordered):
            system.insert(0, 'array')
        project = ['qapi/runtime.h']
        if not module.is_builtin():
            project.append(self.config.include('qapi-builtin-types.h'))
        project += [self.config.include(self.file_stem(mod) + '.h')
                    for mod in self.modules_used(used)]
        if module is self.schema.main_module:
            project += [self.config.include(self.file_stem(mod) + '.h')
                        for mod in self.schema.user_modules()
                        if mod is not module]
        self.h.add(self.header_open(system, [], _dedup(project)))
        forward = [t for t in ordered if not isinstance(t, QAPISchemaEnumType)]
        for typ in forward:
            self.h.add('struct %s;\n' % type_name(self.schema, typ))
        self.h.add('\n')
        for typ in ordered:
            if isinstance(typ, QAPISchemaEnumType):
                self.h.add(self._gen_enum(typ))
            elif isinstance(typ, QAPISchemaObjectType):
                self.h.add(self._gen_struct(typ))
            elif isinstance(typ, QAPISchemaAlternateType):
                self.h.add(self._gen_alternate(typ))
        self.h.add(self.header_close())
        self.c.add('#include "%s"\n' % self.config.include(self.h.fname))

    # -- enums ----------------------------------------------------------------------

    def _values(self, typ: QAPISchemaEnumType) -> List[str]:
        return [m.name for m in typ.members if self.conds.on(m.ifcond)]

    def _gen_enum(self, typ: QAPISchemaEnumType) -> str:
        values = self._values(typ)
        name = type_name(self.schema, typ)
        seen: Dict[str, str] = {}
        for value in values:
            const = enum_const(value)
            if const in seen:
                raise QAPISemError(
                    typ.info, "values '%s' and '%s' of %s both map to C++ %s"
                    % (seen[const], value, typ.describe(), const))
            seen[const] = value
        out = doc_comment(typ)
        out += 'enum class %s {\n' % name
        for value in values:
            out += '  %s,\n' % enum_const(value)
        out += '};\n\n'
        out += 'template <>\nstruct EnumTraits<%s> {\n' % name
        out += '  static constexpr size_t kCount = %d;\n' % len(values)
        if values:
            out += '  static constexpr const char* kNames[kCount] = {%s};\n' % (
                ', '.join(cpp_string(v) for v in values))
        else:
            out += '  static constexpr std::array<const char*, 0> kNames{};\n'
        out += '  static constexpr const char* kTypeName = %s;\n' % cpp_string(typ.name)
        out += '};\n\n'
        return out

    # -- structs and unions ---------------------------------------------------------

    def _member_decl(self, mtype: QAPISchemaType, name: str, optional: bool) -> str:
        cpp = type_name(self.schema, mtype)
        if optional:
            return 'std::optional<%s> %s;' % (cpp, name)
        return '%s %s{};' % (cpp, name)

    def _gen_struct(self, typ: QAPISchemaObjectType) -> str:
        name = type_name(self.schema, typ)
        owner = implicit_owner(self.schema, typ.name)
        if owner is not None:
            out = '// The arguments of %s %s.\n' % (owner.meta, owner.name)
        else:
            out = doc_comment(typ)
        out += 'struct %s {\n' % name
        for member in self.conds.members(typ):
            out += member_doc(owner or typ, member.name)
            out += '  %s\n' % self._member_decl(member.type, c_name(member.name),
                                                 member.optional)
        if typ.variants is not None:
            out += '  // One member per branch; the discriminator %s says which one' \
                   ' is meaningful.\n' % c_name(typ.variants.tag_member.name)
            out += '  struct Variants {\n'
            for variant in self.conds.variants(typ.variants.variants):
                if variant.type.name == 'q_empty':
                    continue
                out += '    %s\n' % self._member_decl(variant.type,
                                                       c_name(variant.name), False)
            out += '    bool operator==(const Variants&) const = default;\n'
            out += '  } u;\n'
        out += '  bool operator==(const %s&) const = default;\n' % name
        out += '};\n\n'
        return out

    # -- alternates -----------------------------------------------------------------

    def _gen_alternate(self, typ: QAPISchemaAlternateType) -> str:
        name = type_name(self.schema, typ)
        out = doc_comment(typ)
        out += 'struct %s {\n' % name
        out += '  // Which branch the value is, by its JSON type.\n'
        out += '  QType type = QType::kNone;\n'
        for variant in self.conds.variants(typ.variants.variants):
            if variant.type.name == 'null':
                continue
            if c_name(variant.name) == 'type':
                raise QAPISemError(typ.info, "%s clashes with the alternate's "
                                   "'type' member" % variant.describe(typ.info))
            out += member_doc(typ, variant.name)
            out += '  %s\n' % self._member_decl(variant.type, c_name(variant.name),
                                                 False)
        out += '  bool operator==(const %s&) const = default;\n' % name
        out += '};\n\n'
        return out


def _dedup(items: List[str]) -> List[str]:
    seen: Set[str] = set()
    out: List[str] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
