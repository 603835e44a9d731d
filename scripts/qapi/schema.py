"""The typed entity model of a checked schema.

``QAPISchema(fname)`` parses, checks (``expr.check_exprs``), builds one entity per
definition plus the implicit ones (builtins, ``q_empty``, ``QType``, array types,
``q_obj_<name>-arg``/``-base`` object types), resolves every reference and checks
what needs the whole schema: unknown types, clashes between members (compared after
name mapping, base members first), union discriminators and branches, alternate
branches that JSON could not tell apart, command and event argument types.

Backends walk the model with a ``QAPISchemaVisitor``, module by module, in source
order.  Conditions (``if``) are kept in the model; the backends evaluate them against
the ``-D`` symbols (``IfCond.evaluate``) and leave out what is disabled.
"""

import os
import re
from typing import Callable, Dict, List, Optional, Sequence, Set, Union, cast

from .common import c_name
from .error import QAPIError, QAPISemError, QAPISourceError
from .expr import JSONObject, check_exprs
from .parser import QAPIDoc, QAPISchemaParser
from .source import QAPISourceInfo


class IfCond:
    """An ``if`` condition: None (always), a symbol, or {'not'|'all'|'any': ...}."""

    def __init__(self, cond: object = None) -> None:
        self.cond = cond

    def is_present(self) -> bool:
        return self.cond is not None

    def evaluate(self, defined: Set[str]) -> bool:
        """True when the condition holds for the given set of defined symbols
        (an undefined symbol is false)."""
        return _eval_cond(self.cond, defined)

    def text(self) -> str:
        """A stable, compact rendering: CONFIG_A, not(X), all(A, B), any(A, B)."""
        return _cond_text(self.cond)


def _eval_cond(cond: object, defined: Set[str]) -> bool:
    if cond is None:
        return True
    if isinstance(cond, str):
        return cond in defined
    assert isinstance(cond, dict) and len(cond) == 1
    (operator, operand), = cond.items()
    if operator == 'not':
        return not _eval_cond(operand, defined)
    assert isinstance(operand, list)
    results = [_eval_cond(sub, defined) for sub in operand]
    return all(results) if operator == 'all' else any(results)


def _cond_text(cond: object) -> str:
    if cond is None:
        return ''
    if isinstance(cond, str):
        return cond
    assert isinstance(cond, dict) and len(cond) == 1
    (operator, operand), = cond.items()
    if operator == 'not':
        return 'not(%s)' % _cond_text(operand)
    assert isinstance(operand, list)
    return '%s(%s)' % (operator, ', '.join(_cond_text(sub) for sub in operand))


# -- members ---------------------------------------------------------------------------


class QAPISchemaMember:
    """Something with a name inside a definition: object members, enum values,
    union/alternate branches, features."""

    role = 'member'

    def __init__(self, name: str, info: Optional[QAPISourceInfo],
                 ifcond: Optional[IfCond] = None) -> None:
        self.name = name
        self.info = info
        self.ifcond = ifcond or IfCond()
        self.defined_in: Optional[str] = None

    def set_defined_in(self, name: str) -> None:
        assert self.defined_in is None
        self.defined_in = name

    def check_clash(self, info: Optional[QAPISourceInfo],
                    seen: Dict[str, 'QAPISchemaMember']) -> None:
        cname = c_name(self.name)
        if cname in seen:
            raise QAPISemError(info, '%s collides with %s'
                               % (self.describe(info), seen[cname].describe(info)))
        seen[cname] = self

    def describe(self, info: Optional[QAPISourceInfo]) -> str:
        role = self.role
        defined_in = self.defined_in
        assert defined_in is not None
        if defined_in.startswith('q_obj_'):
            defined_in = defined_in[6:]
            if defined_in.endswith('-arg'):
                role = 'parameter'
            elif defined_in.endswith('-base'):
                role = 'base ' + role
        elif info is None or defined_in != info.defn_name:
            return "%s '%s' of type '%s'" % (role, self.name, defined_in)
        return "%s '%s'" % (role, self.name)


class QAPISchemaFeature(QAPISchemaMember):
    role = 'feature'

    def is_special(self) -> bool:
        return self.name in ('deprecated', 'unstable')


class QAPISchemaEnumMember(QAPISchemaMember):
    role = 'value'

    def __init__(self, name: str, info: Optional[QAPISourceInfo],
                 ifcond: Optional[IfCond] = None,
                 features: Optional[List[QAPISchemaFeature]] = None) -> None:
        super().__init__(name, info, ifcond)
        self.features = features or []
        for feat in self.features:
            feat.set_defined_in(name)


class QAPISchemaObjectTypeMember(QAPISchemaMember):

    def __init__(self, name: str, info: Optional[QAPISourceInfo],
                 type_name: str, optional: bool,
                 ifcond: Optional[IfCond] = None,
                 features: Optional[List[QAPISchemaFeature]] = None) -> None:
        super().__init__(name, info, ifcond)
        self.type_name = type_name
        self._type: Optional['QAPISchemaType'] = None
        self.optional = optional
        self.features = features or []
        for feat in self.features:
            feat.set_defined_in(name)

    @property
    def type(self) -> 'QAPISchemaType':
        assert self._type is not None
        return self._type

    def check(self, schema: 'QAPISchema') -> None:
        assert self.defined_in is not None
        self._type = schema.resolve_type(self.type_name, self.info,
                                         self.describe)
        seen: Dict[str, QAPISchemaMember] = {}
        for feat in self.features:
            feat.check_clash(self.info, seen)


class QAPISchemaVariant(QAPISchemaObjectTypeMember):
    role = 'branch'

    def __init__(self, name: str, info: Optional[QAPISourceInfo],
                 type_name: str, ifcond: Optional[IfCond] = None) -> None:
        super().__init__(name, info, type_name, False, ifcond)


class QAPISchemaVariants:
    """The branches of a union (``tag_name`` is its discriminator) or of an
    alternate (``tag_member`` is the implicit QType member 'type')."""

    def __init__(self, tag_name: Optional[str], info: QAPISourceInfo,
                 tag_member: Optional[QAPISchemaObjectTypeMember],
                 variants: List[QAPISchemaVariant]) -> None:
        assert (tag_name is None) != (tag_member is None)
        self._tag_name = tag_name
        self.info = info
        self._tag_member = tag_member
        self.variants = variants

    @property
    def tag_member(self) -> QAPISchemaObjectTypeMember:
        assert self._tag_member is not None
        return self._tag_member

    def set_defined_in(self, name: str) -> None:
        for variant in self.variants:
            variant.set_defined_in(name)

    def check(self, schema: 'QAPISchema',
              seen: Dict[str, QAPISchemaMember]) -> None:
        if self._tag_name is not None:
            self._check_discriminator(schema, seen)
        tag_type = self.tag_member.type
        assert isinstance(tag_type, QAPISchemaEnumType)
        if self._tag_name is not None:
            # Enum values without a branch get an empty one.
            cases = {variant.name for variant in self.variants}
            for value in tag_type.members:
                if value.name not in cases:
                    variant = QAPISchemaVariant(value.name, self.info, 'q_empty',
                                                value.ifcond)
                    assert self.tag_member.defined_in is not None
                    variant.set_defined_in(self.tag_member.defined_in)
                    self.variants.append(variant)
        if not self.variants:
            raise QAPISemError(self.info, 'union has no branches')
        for variant in self.variants:
            variant.check(schema)
            if self._tag_name is None:
                continue
            if variant.name not in tag_type.member_names():
                raise QAPISemError(
                    self.info, "branch '%s' is not a value of %s"
                    % (variant.name, tag_type.describe()))
            vtype = variant.type
            if not isinstance(vtype, QAPISchemaObjectType) or vtype.variants:
                raise QAPISemError(
                    self.info, '%s cannot use %s'
                    % (variant.describe(self.info), vtype.describe()))
            vtype.check(schema)

    def _check_discriminator(self, schema: 'QAPISchema',
                             seen: Dict[str, QAPISchemaMember]) -> None:
        assert self._tag_name is not None
        tag = seen.get(c_name(self._tag_name))
        if (not isinstance(tag, QAPISchemaObjectTypeMember)
                or tag.name != self._tag_name):
            raise QAPISemError(
                self.info, "discriminator '%s' is not a member of 'base'"
                % self._tag_name)
        self._tag_member = tag
        base = "'base'"
        assert tag.defined_in is not None
        base_type = schema.lookup_type(tag.defined_in)
        assert base_type is not None
        if not base_type.is_implicit():
            base = "base type '%s'" % tag.defined_in
        if not isinstance(tag.type, QAPISchemaEnumType):
            raise QAPISemError(
                self.info, "discriminator member '%s' of %s must be of enum type"
                % (self._tag_name, base))
        if tag.optional:
            raise QAPISemError(
                self.info, "discriminator member '%s' of %s must not be optional"
                % (self._tag_name, base))
        if tag.ifcond.is_present():
            raise QAPISemError(
                self.info,
                "discriminator member '%s' of %s must not be conditional"
                % (self._tag_name, base))

    def check_clash(self, info: Optional[QAPISourceInfo],
                    seen: Dict[str, QAPISchemaMember]) -> None:
        for variant in self.variants:
            vtype = variant.type
            assert isinstance(vtype, QAPISchemaObjectType)
            vtype.check_clash(info, dict(seen))


# -- entities --------------------------------------------------------------------------


class QAPISchemaEntity:
    """A definition (type, command, event) or an include directive."""

    meta = ''

    def __init__(self, name: str, info: Optional[QAPISourceInfo],
                 doc: Optional[QAPIDoc], ifcond: Optional[IfCond] = None,
                 features: Optional[List[QAPISchemaFeature]] = None) -> None:
        self.name = name
        self.info = info
        self.doc = doc
        self.ifcond = ifcond or IfCond()
        self.features = features or []
        for feat in self.features:
            feat.set_defined_in(name)
        self.module: Optional['QAPISchemaModule'] = None
        self._checked = False

    def c_name(self) -> str:
        return c_name(self.name)

    def check(self, schema: 'QAPISchema') -> None:
        assert not self._checked
        seen: Dict[str, QAPISchemaMember] = {}
        for feat in self.features:
            feat.check_clash(self.info, seen)
        self._checked = True

    def module_fname(self) -> str:
        """The file whose module the entity belongs to."""
        return self.info.fname if self.info else QAPISchemaModule.BUILTIN

    def is_implicit(self) -> bool:
        return self.info is None

    def visit(self, visitor: 'QAPISchemaVisitor') -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return "%s '%s'" % (self.meta, self.name)


class QAPISchemaInclude(QAPISchemaEntity):

    def __init__(self, sub_module: 'QAPISchemaModule',
                 info: QAPISourceInfo) -> None:
        super().__init__('', info, None)
        self.sub_module = sub_module

    def visit(self, visitor: 'QAPISchemaVisitor') -> None:
        visitor.visit_include(self)


class QAPISchemaType(QAPISchemaEntity):

    def json_type(self) -> str:
        raise NotImplementedError

    def alternate_qtype(self) -> Optional[str]:
        """The QType an alternate branch of this type is selected by."""
        return {
            'null': 'qnull', 'string': 'qstring', 'number': 'qnum',
            'int': 'qnum', 'boolean': 'qbool', 'array': 'qlist',
            'object': 'qdict',
        }.get(self.json_type())

    def check(self, schema: 'QAPISchema') -> None:
        super().check(schema)
        for feat in self.features:
            if feat.is_special():
                raise QAPISemError(
                    self.info,
                    "feature '%s' is not supported for types" % feat.name)

    def describe(self) -> str:
        return "%s type '%s'" % (self.meta, self.name)


class QAPISchemaBuiltinType(QAPISchemaType):
    meta = 'built-in'

    def __init__(self, name: str, json_type: str, cpp_type: str) -> None:
        super().__init__(name, None, None)
        self._json_type = json_type
        self.cpp_type = cpp_type

    def c_name(self) -> str:
        return self.name

    def json_type(self) -> str:
        return self._json_type

    def visit(self, visitor: 'QAPISchemaVisitor') -> None:
        visitor.visit_builtin_type(self)


class QAPISchemaEnumType(QAPISchemaType):
    meta = 'enum'

    def __init__(self, name: str, info: Optional[QAPISourceInfo],
                 doc: Optional[QAPIDoc], ifcond: Optional[IfCond],
                 features: Optional[List[QAPISchemaFeature]],
                 members: List[QAPISchemaEnumMember],
                 prefix: Optional[str]) -> None:
        super().__init__(name, info, doc, ifcond, features)
        for member in members:
            member.set_defined_in(name)
        self.members = members
        self.prefix = prefix

    def check(self, schema: 'QAPISchema') -> None:
        super().check(schema)
        seen: Dict[str, QAPISchemaMember] = {}
        for member in self.members:
            member.check_clash(self.info, seen)

    def is_implicit(self) -> bool:
        return self.name == 'QType'

    def member_names(self) -> List[str]:
        return [member.name for member in self.members]

    def json_type(self) -> str:
        return 'string'

    def visit(self, visitor: 'QAPISchemaVisitor') -> None:
        visitor.visit_enum_type(self)


class QAPISchemaArrayType(QAPISchemaType):
    meta = 'array'

    def __init__(self, name: str, info: Optional[QAPISourceInfo],
                 element_type_name: str) -> None:
        super().__init__(name, info, None)
        self._element_type_name = element_type_name
        self._element_type: Optional[QAPISchemaType] = None

    @property
    def element_type(self) -> QAPISchemaType:
        assert self._element_type is not None
        return self._element_type

    def check(self, schema: 'QAPISchema') -> None:
        super().check(schema)
        self._element_type = schema.resolve_type(
            self._element_type_name, self.info,
            self.info.defn_meta if self.info and self.info.defn_meta else '')
        assert not isinstance(self._element_type, QAPISchemaArrayType)

    def module_fname(self) -> str:
        return self.element_type.module_fname()

    def effective_ifcond(self) -> IfCond:
        return self.element_type.ifcond

    def is_implicit(self) -> bool:
        return True

    def json_type(self) -> str:
        return 'array'

    def visit(self, visitor: 'QAPISchemaVisitor') -> None:
        visitor.visit_array_type(self)

    def describe(self) -> str:
        return "%s type ['%s']" % (self.meta, self._element_type_name)


class QAPISchemaObjectType(QAPISchemaType):
    """A struct, a union (``variants`` set) or an implicit object type."""

    def __init__(self, name: str, info: Optional[QAPISourceInfo],
                 doc: Optional[QAPIDoc], ifcond: Optional[IfCond],
                 features: Optional[List[QAPISchemaFeature]],
                 base: Optional[str],
                 local_members: List[QAPISchemaObjectTypeMember],
                 variants: Optional[QAPISchemaVariants]) -> None:
        super().__init__(name, info, doc, ifcond, features)
        self.meta = 'union' if variants else 'struct'
        for member in local_members:
            member.set_defined_in(name)
        if variants is not None:
            variants.set_defined_in(name)
        self._base_name = base
        self.base: Optional[QAPISchemaObjectType] = None
        self.local_members = local_members
        self.variants = variants
        self._members: Optional[List[QAPISchemaObjectTypeMember]] = None

    @property
    def members(self) -> List[QAPISchemaObjectTypeMember]:
        """All members, base members first (flattened)."""
        assert self._members is not None
        return self._members

    def check(self, schema: 'QAPISchema') -> None:
        if self._members is not None:
            return
        if self._checked:
            raise QAPISemError(self.info, 'object %s contains itself' % self.name)
        super().check(schema)
        seen: Dict[str, QAPISchemaMember] = {}
        if self._base_name is not None:
            base = schema.resolve_type(self._base_name, self.info, "'base'")
            if not isinstance(base, QAPISchemaObjectType) or base.variants:
                raise QAPISemError(
                    self.info, "'base' requires a struct type, %s isn't"
                    % base.describe())
            self.base = base
            base.check(schema)
            base.check_clash(self.info, seen)
        for member in self.local_members:
            member.check(schema)
            member.check_clash(self.info, seen)
        members = [cast(QAPISchemaObjectTypeMember, m) for m in seen.values()]
        if self.variants is not None:
            self.variants.check(schema, seen)
            self.variants.check_clash(self.info, seen)
        self._members = members

    def check_clash(self, info: Optional[QAPISourceInfo],
                    seen: Dict[str, QAPISchemaMember]) -> None:
        assert self.variants is None
        for member in self.members:
            member.check_clash(info, seen)

    def is_implicit(self) -> bool:
        return self.name.startswith('q_')

    def is_empty(self) -> bool:
        return not self.members and self.variants is None

    def json_type(self) -> str:
        return 'object'

    def visit(self, visitor: 'QAPISchemaVisitor') -> None:
        visitor.visit_object_type(self)


class QAPISchemaAlternateType(QAPISchemaType):
    meta = 'alternate'

    def __init__(self, name: str, info: QAPISourceInfo, doc: Optional[QAPIDoc],
                 ifcond: Optional[IfCond],
                 features: Optional[List[QAPISchemaFeature]],
                 variants: QAPISchemaVariants) -> None:
        super().__init__(name, info, doc, ifcond, features)
        variants.set_defined_in(name)
        variants.tag_member.set_defined_in(name)
        self.variants = variants

    def check(self, schema: 'QAPISchema') -> None:
        super().check(schema)
        self.variants.tag_member.check(schema)
        self.variants.check(schema, {})
        seen: Dict[str, QAPISchemaMember] = {}
        qtypes_seen: Dict[str, str] = {}
        for variant in self.variants.variants:
            variant.check_clash(self.info, seen)
            qtype = variant.type.alternate_qtype()
            if qtype is None:
                raise QAPISemError(
                    self.info, '%s cannot use %s'
                    % (variant.describe(self.info), variant.type.describe()))
            conflicting = {qtype}
            if qtype == 'qstring':
                if isinstance(variant.type, QAPISchemaEnumType):
                    for value in variant.type.members:
                        if value.name in ('on', 'off'):
                            conflicting.add('qbool')
                        if re.match(r'[-+0-9.]', value.name):
                            conflicting.add('qnum')
                else:
                    conflicting.add('qnum')
                    conflicting.add('qbool')
            for qt in sorted(conflicting):
                if qt in qtypes_seen:
                    raise QAPISemError(
                        self.info, "%s can't be distinguished from '%s'"
                        % (variant.describe(self.info), qtypes_seen[qt]))
                qtypes_seen[qt] = variant.name

    def json_type(self) -> str:
        return 'value'

    def visit(self, visitor: 'QAPISchemaVisitor') -> None:
        visitor.visit_alternate_type(self)


class QAPISchemaCommand(QAPISchemaEntity):
    meta = 'command'

    def __init__(self, name: str, info: QAPISourceInfo, doc: Optional[QAPIDoc],
                 ifcond: IfCond, features: List[QAPISchemaFeature],
                 arg_type: Optional[str], ret_type: Optional[str],
                 gen: bool, success_response: bool, boxed: bool,
                 allow_oob: bool, allow_preconfig: bool,
                 coroutine: bool) -> None:
        super().__init__(name, info, doc, ifcond, features)
        self._arg_type_name = arg_type
        self._ret_type_name = ret_type
        self.arg_type: Optional[QAPISchemaObjectType] = None
        self.ret_type: Optional[QAPISchemaType] = None
        self.gen = gen
        self.success_response = success_response
        self.boxed = boxed
        self.allow_oob = allow_oob
        self.allow_preconfig = allow_preconfig
        self.coroutine = coroutine

    def check(self, schema: 'QAPISchema') -> None:
        super().check(schema)
        if self._arg_type_name is not None:
            arg_type = schema.resolve_type(self._arg_type_name, self.info,
                                           "command's 'data'")
            if not isinstance(arg_type, QAPISchemaObjectType):
                raise QAPISemError(self.info, "command's 'data' cannot take %s"
                                   % arg_type.describe())
            if arg_type.variants and not self.boxed:
                raise QAPISemError(
                    self.info,
                    "command's 'data' can take %s only with 'boxed': true"
                    % arg_type.describe())
            self.arg_type = arg_type
        if self._ret_type_name is not None:
            ret_type = schema.resolve_type(self._ret_type_name, self.info,
                                           "command's 'returns'")
            assert self.info is not None
            if self.name not in self.info.pragma.command_returns_exceptions:
                typ = ret_type
                if isinstance(typ, QAPISchemaArrayType):
                    typ = typ.element_type
                if not isinstance(typ, QAPISchemaObjectType):
                    raise QAPISemError(
                        self.info, "command's 'returns' cannot take %s"
                        % ret_type.describe())
            self.ret_type = ret_type

    def visit(self, visitor: 'QAPISchemaVisitor') -> None:
        visitor.visit_command(self)


class QAPISchemaEvent(QAPISchemaEntity):
    meta = 'event'

    def __init__(self, name: str, info: QAPISourceInfo, doc: Optional[QAPIDoc],
                 ifcond: IfCond, features: List[QAPISchemaFeature],
                 arg_type: Optional[str], boxed: bool) -> None:
        super().__init__(name, info, doc, ifcond, features)
        self._arg_type_name = arg_type
        self.arg_type: Optional[QAPISchemaObjectType] = None
        self.boxed = boxed

    def check(self, schema: 'QAPISchema') -> None:
        super().check(schema)
        if self._arg_type_name is not None:
            arg_type = schema.resolve_type(self._arg_type_name, self.info,
                                           "event's 'data'")
            if not isinstance(arg_type, QAPISchemaObjectType):
                raise QAPISemError(self.info, "event's 'data' cannot take %s"
                                   % arg_type.describe())
            if arg_type.variants and not self.boxed:
                raise QAPISemError(
                    self.info,
                    "event's 'data' can take %s only with 'boxed': true"
                    % arg_type.describe())
            self.arg_type = arg_type

    def visit(self, visitor: 'QAPISchemaVisitor') -> None:
        visitor.visit_event(self)


# -- modules and the schema ------------------------------------------------------------


class QAPISchemaVisitor:
    """Walks a schema; override what you need.  Entities arrive module by module
    (the builtin module first), each module's in source order."""

    def visit_begin(self, schema: 'QAPISchema') -> None:
        pass

    def visit_end(self) -> None:
        pass

    def visit_module(self, name: str) -> None:
        pass

    def visit_include(self, include: QAPISchemaInclude) -> None:
        pass

    def visit_builtin_type(self, typ: QAPISchemaBuiltinType) -> None:
        pass

    def visit_enum_type(self, typ: QAPISchemaEnumType) -> None:
        pass

    def visit_array_type(self, typ: QAPISchemaArrayType) -> None:
        pass

    def visit_object_type(self, typ: QAPISchemaObjectType) -> None:
        pass

    def visit_alternate_type(self, typ: QAPISchemaAlternateType) -> None:
        pass

    def visit_command(self, cmd: QAPISchemaCommand) -> None:
        pass

    def visit_event(self, event: QAPISchemaEvent) -> None:
        pass


class QAPISchemaModule:
    """The definitions of one schema file (or the builtin module)."""

    BUILTIN = './builtin'

    def __init__(self, name: str) -> None:
        self.name = name
        self.entities: List[QAPISchemaEntity] = []

    def is_builtin(self) -> bool:
        return self.name == self.BUILTIN

    def visit(self, visitor: QAPISchemaVisitor) -> None:
        visitor.visit_module(self.name)
        for entity in self.entities:
            entity.visit(visitor)


_BUILTINS = [
    ('str', 'string', 'std::string'),
    ('number', 'number', 'double'),
    ('int', 'int', 'int64_t'),
    ('int8', 'int', 'int8_t'),
    ('int16', 'int', 'int16_t'),
    ('int32', 'int', 'int32_t'),
    ('int64', 'int', 'int64_t'),
    ('uint8', 'int', 'uint8_t'),
    ('uint16', 'int', 'uint16_t'),
    ('uint32', 'int', 'uint32_t'),
    ('uint64', 'int', 'uint64_t'),
    ('size', 'int', 'uint64_t'),
    ('bool', 'boolean', 'bool'),
    ('any', 'value', 'Any'),
    ('null', 'null', 'std::nullptr_t'),
]

QTYPE_VALUES = ['none', 'qnull', 'qnum', 'qstring', 'qdict', 'qlist', 'qbool']


class QAPISchema:
    """A parsed and checked schema.  Raises QAPIError on any problem."""

    def __init__(self, fname: str) -> None:
        self.fname = fname
        try:
            parser = QAPISchemaParser(fname)
        except OSError as err:
            raise QAPIError("can't read schema file '%s': %s"
                            % (fname, err.strerror)) from err
        exprs = check_exprs(parser.exprs)
        self.docs = parser.docs
        self.entities: List[QAPISchemaEntity] = []
        self._entity_dict: Dict[str, QAPISchemaEntity] = {}
        self.modules: Dict[str, QAPISchemaModule] = {}
        self._schema_dir = os.path.dirname(fname)
        self._make_module(QAPISchemaModule.BUILTIN)
        self.main_module = self._make_module(fname)
        self._predefining = True
        self._def_predefineds()
        self._predefining = False
        for elem in exprs:
            self._def_expr(elem)
        self._check()

    # -- lookup ---------------------------------------------------------------------

    def lookup_entity(self, name: str) -> Optional[QAPISchemaEntity]:
        return self._entity_dict.get(name)

    def lookup_type(self, name: str) -> Optional[QAPISchemaType]:
        ent = self._entity_dict.get(name)
        return ent if isinstance(ent, QAPISchemaType) else None

    def resolve_type(self, name: str, info: Optional[QAPISourceInfo],
                     what: Union[str, Callable[[Optional[QAPISourceInfo]], str]]
                     ) -> QAPISchemaType:
        typ = self.lookup_type(name)
        if typ is None:
            text = what(info) if callable(what) else what
            raise QAPISemError(info, "%s uses unknown type '%s'" % (text, name))
        return typ

    @property
    def the_empty_object_type(self) -> QAPISchemaObjectType:
        typ = self.lookup_type('q_empty')
        assert isinstance(typ, QAPISchemaObjectType)
        return typ

    def module_name(self, fname: str) -> str:
        if fname.startswith('./'):
            return fname
        return os.path.relpath(fname, self._schema_dir)

    def _make_module(self, fname: str) -> QAPISchemaModule:
        name = self.module_name(fname)
        if name not in self.modules:
            self.modules[name] = QAPISchemaModule(name)
        return self.modules[name]

    # -- definitions ----------------------------------------------------------------

    def _def_entity(self, ent: QAPISchemaEntity) -> None:
        assert ent.info is not None or self._predefining
        self.entities.append(ent)
        if isinstance(ent, QAPISchemaInclude):
            return
        other = self._entity_dict.get(ent.name)
        if other is not None:
            if other.info is not None:
                where = QAPISourceError(other.info, 'previous definition')
                raise QAPISemError(ent.info, "'%s' is already defined\n%s"
                                   % (ent.name, where))
            raise QAPISemError(ent.info,
                               '%s is already defined' % other.describe())
        self._entity_dict[ent.name] = ent

    def _def_predefineds(self) -> None:
        for name, json_type, cpp_type in _BUILTINS:
            self._def_entity(QAPISchemaBuiltinType(name, json_type, cpp_type))
            self._make_array_type(name, None)
        self._def_entity(QAPISchemaObjectType('q_empty', None, None, None, None,
                                              None, [], None))
        values = [QAPISchemaEnumMember(value, None) for value in QTYPE_VALUES]
        self._def_entity(QAPISchemaEnumType('QType', None, None, None, None,
                                            values, 'QTYPE'))

    def _make_features(self, features: object,
                       info: QAPISourceInfo) -> List[QAPISchemaFeature]:
        if features is None:
            return []
        assert isinstance(features, list)
        result = []
        for feat in features:
            assert isinstance(feat, dict)
            result.append(QAPISchemaFeature(str(feat['name']), info,
                                            IfCond(feat.get('if'))))
        return result

    def _make_array_type(self, element_type: str,
                         info: Optional[QAPISourceInfo]) -> str:
        name = element_type + 'List'
        if self.lookup_type(name) is None:
            self._def_entity(QAPISchemaArrayType(name, info, element_type))
        return name

    def _make_implicit_object_type(
            self, name: str, info: QAPISourceInfo, ifcond: IfCond, role: str,
            members: List[QAPISchemaObjectTypeMember]) -> Optional[str]:
        if not members:
            return None
        name = 'q_obj_%s-%s' % (name, role)
        if self.lookup_entity(name) is None:
            self._def_entity(QAPISchemaObjectType(name, info, None, ifcond, None,
                                                  None, members, None))
        return name

    def _type_ref(self, typ: object, info: QAPISourceInfo) -> str:
        if isinstance(typ, list):
            assert len(typ) == 1
            return self._make_array_type(str(typ[0]), info)
        assert isinstance(typ, str)
        return typ

    def _make_members(self, data: object, info: QAPISourceInfo
                      ) -> List[QAPISchemaObjectTypeMember]:
        assert isinstance(data, dict)
        members = []
        for key, value in data.items():
            assert isinstance(value, dict)
            optional = key.startswith('*')
            name = key[1:] if optional else key
            members.append(QAPISchemaObjectTypeMember(
                name, info, self._type_ref(value['type'], info), optional,
                IfCond(value.get('if')),
                self._make_features(value.get('features'), info)))
        return members

    def _make_variants(self, data: object, info: QAPISourceInfo
                       ) -> List[QAPISchemaVariant]:
        assert isinstance(data, dict)
        return [QAPISchemaVariant(key, info, self._type_ref(value['type'], info),
                                  IfCond(value.get('if')))
                for key, value in data.items()]

    def _def_expr(self, elem: JSONObject) -> None:
        expr = elem['expr']
        info = elem['info']
        doc = elem.get('doc')
        assert isinstance(expr, dict) and isinstance(info, QAPISourceInfo)
        assert doc is None or isinstance(doc, QAPIDoc)
        if 'include' in expr:
            self._def_entity(QAPISchemaInclude(
                self._make_module(str(expr['include'])), info))
            return
        ifcond = IfCond(expr.get('if'))
        features = self._make_features(expr.get('features'), info)
        if 'enum' in expr:
            data = expr['data']
            assert isinstance(data, list)
            values = [QAPISchemaEnumMember(
                str(value['name']), info, IfCond(value.get('if')),
                self._make_features(value.get('features'), info))
                for value in cast(List[Dict[str, object]], data)]
            prefix = expr.get('prefix')
            self._def_entity(QAPISchemaEnumType(
                str(expr['enum']), info, doc, ifcond, features, values,
                str(prefix) if prefix is not None else None))
        elif 'struct' in expr:
            base = expr.get('base')
            self._def_entity(QAPISchemaObjectType(
                str(expr['struct']), info, doc, ifcond, features,
                str(base) if base is not None else None,
                self._make_members(expr['data'], info), None))
        elif 'union' in expr:
            name = str(expr['union'])
            base = expr['base']
            if isinstance(base, dict):
                base = self._make_implicit_object_type(
                    name, info, ifcond, 'base', self._make_members(base, info))
            self._def_entity(QAPISchemaObjectType(
                name, info, doc, ifcond, features,
                str(base) if base is not None else None, [],
                QAPISchemaVariants(str(expr['discriminator']), info, None,
                                   self._make_variants(expr['data'], info))))
        elif 'alternate' in expr:
            tag = QAPISchemaObjectTypeMember('type', info, 'QType', False)
            self._def_entity(QAPISchemaAlternateType(
                str(expr['alternate']), info, doc, ifcond, features,
                QAPISchemaVariants(None, info, tag,
                                   self._make_variants(expr['data'], info))))
        elif 'command' in expr:
            name = str(expr['command'])
            data = expr.get('data')
            if isinstance(data, dict):
                data = self._make_implicit_object_type(
                    name, info, ifcond, 'arg', self._make_members(data, info))
            rets = expr.get('returns')
            self._def_entity(QAPISchemaCommand(
                name, info, doc, ifcond, features,
                str(data) if data is not None else None,
                self._type_ref(rets, info) if rets is not None else None,
                bool(expr.get('gen', True)),
                bool(expr.get('success-response', True)),
                bool(expr.get('boxed', False)),
                bool(expr.get('allow-oob', False)),
                bool(expr.get('allow-preconfig', False)),
                bool(expr.get('coroutine', False))))
        else:
            name = str(expr['event'])
            data = expr.get('data')
            if isinstance(data, dict):
                data = self._make_implicit_object_type(
                    name, info, ifcond, 'arg', self._make_members(data, info))
            self._def_entity(QAPISchemaEvent(
                name, info, doc, ifcond, features,
                str(data) if data is not None else None,
                bool(expr.get('boxed', False))))

    def _check(self) -> None:
        for ent in self.entities:
            ent.check(self)
        for ent in self.entities:
            module = self.modules[self.module_name(ent.module_fname())]
            ent.module = module
            module.entities.append(ent)

    def visit(self, visitor: QAPISchemaVisitor) -> None:
        visitor.visit_begin(self)
        for module in self.modules.values():
            module.visit(visitor)
        visitor.visit_end()

    def user_modules(self) -> Sequence[QAPISchemaModule]:
        return [mod for mod in self.modules.values() if not mod.is_builtin()]
