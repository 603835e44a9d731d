"""Context-free checks and normalisation of parsed schema expressions.

After ``check_exprs`` every expression has exactly one meta key, valid names and keys,
and its sugar is expanded: member values are ``{'type': T, ...}`` dicts, enum values and
features are ``{'name': N, ...}`` dicts.  Checks that need the whole schema (types
exist, members don't clash, ...) live in ``schema.py``.  Messages follow QEMU's
generator wherever it has one.
"""

import re
from typing import Collection, Dict, Iterable, List, Optional, Union, cast

from .common import c_name
from .error import QAPISemError
from .parser import QAPIDoc
from .source import QAPISourceInfo

JSONObject = Dict[str, object]

_VALID_NAME = re.compile(r'(__[a-z0-9.-]+_)?(x-)?([a-z][a-z0-9_-]*)$',
                         re.IGNORECASE)

META_KEYS = ('enum', 'struct', 'union', 'alternate', 'command', 'event')


def check_name_is_str(name: object, info: QAPISourceInfo, source: str) -> None:
    if not isinstance(name, str):
        raise QAPISemError(info, '%s requires a string name' % source)


def check_name_str(name: str, info: QAPISourceInfo, source: str) -> str:
    """Checks the general name syntax; returns the name's stem (without the
    downstream ``__RFQDN_`` and experimental ``x-`` prefixes)."""
    match = _VALID_NAME.match(name)
    if not match or c_name(name, False).startswith('q_'):
        raise QAPISemError(info, '%s has an invalid name' % source)
    return match.group(3)


def check_name_upper(name: str, info: QAPISourceInfo, source: str) -> None:
    stem = check_name_str(name, info, source)
    if re.search(r'[a-z-]', stem):
        raise QAPISemError(info,
                           "name of %s must not use lowercase or '-'" % source)


def check_name_lower(name: str, info: QAPISourceInfo, source: str,
                     permit_upper: bool = False,
                     permit_underscore: bool = False) -> None:
    stem = check_name_str(name, info, source)
    if ((not permit_upper and re.search(r'[A-Z]', stem))
            or (not permit_underscore and '_' in stem)):
        raise QAPISemError(info,
                           "name of %s must not use uppercase or '_'" % source)


def check_name_camel(name: str, info: QAPISourceInfo, source: str) -> None:
    stem = check_name_str(name, info, source)
    if not re.match(r'[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$', stem):
        raise QAPISemError(info, 'name of %s must use CamelCase' % source)


def check_defn_name_str(name: str, info: QAPISourceInfo, meta: str) -> None:
    if meta == 'event':
        check_name_upper(name, info, meta)
    elif meta == 'command':
        check_name_lower(
            name, info, meta,
            permit_underscore=name in info.pragma.command_name_exceptions)
    else:
        check_name_camel(name, info, meta)
        if name.endswith('List'):
            raise QAPISemError(info,
                               "%s name should not end in 'List'" % meta)


def check_keys(value: JSONObject, info: QAPISourceInfo, source: str,
               required: Collection[str], optional: Collection[str]) -> None:
    def pprint(elems: Iterable[str]) -> str:
        return ', '.join("'" + elem + "'" for elem in sorted(elems))

    missing = set(required) - set(value)
    if missing:
        raise QAPISemError(
            info, '%s misses key%s %s'
            % (source, 's' if len(missing) > 1 else '', pprint(missing)))
    allowed = set(required) | set(optional)
    unknown = set(value) - allowed
    if unknown:
        raise QAPISemError(
            info, '%s has unknown key%s %s\nValid keys are %s.'
            % (source, 's' if len(unknown) > 1 else '', pprint(unknown),
               pprint(allowed)))


def check_flags(expr: JSONObject, info: QAPISourceInfo) -> None:
    for key in ('gen', 'success-response'):
        if key in expr and expr[key] is not False:
            raise QAPISemError(info,
                               "flag '%s' may only use false value" % key)
    for key in ('boxed', 'allow-oob', 'allow-preconfig', 'coroutine'):
        if key in expr and expr[key] is not True:
            raise QAPISemError(info,
                               "flag '%s' may only use true value" % key)
    if 'allow-oob' in expr and 'coroutine' in expr:
        raise QAPISemError(
            info, "flags 'allow-oob' and 'coroutine' are incompatible")


def check_if(expr: JSONObject, info: QAPISourceInfo, source: str) -> None:
    """Checks the ``if`` member: a config symbol, or an object with exactly one of
    ``not`` (a condition), ``all``/``any`` (non-empty arrays of conditions)."""

    def check_cond(cond: object) -> None:
        if isinstance(cond, str):
            if not re.fullmatch(r'[A-Z][A-Z0-9_]*', cond):
                raise QAPISemError(
                    info, "'if' condition '%s' of %s is not a valid identifier"
                    % (cond, source))
            return
        if not isinstance(cond, dict):
            raise QAPISemError(
                info,
                "'if' condition of %s must be a string or an object" % source)
        check_keys(cond, info, "'if' condition of %s" % source, [],
                   ['all', 'any', 'not'])
        if len(cond) != 1:
            raise QAPISemError(
                info, "'if' condition of %s has conflicting keys" % source)
        if 'not' in cond:
            check_cond(cond['not'])
            return
        operator = 'all' if 'all' in cond else 'any'
        operands = cond[operator]
        if not isinstance(operands, list):
            raise QAPISemError(info, "'%s' condition of %s must be an array"
                               % (operator, source))
        if not operands:
            raise QAPISemError(info,
                               "'if' condition [] of %s is useless" % source)
        for operand in operands:
            check_cond(operand)

    ifcond = expr.get('if')
    if ifcond is not None:
        check_cond(ifcond)


def normalize_members(members: object) -> None:
    if isinstance(members, dict):
        for key, arg in members.items():
            if not isinstance(arg, dict):
                members[key] = {'type': arg}


def check_type(value: Optional[object], info: QAPISourceInfo, source: str,
               allow_array: bool = False,
               allow_dict: Union[bool, str] = False) -> None:
    """Checks a type reference: a name, ``[name]`` if ``allow_array``, or an
    inline members dict if ``allow_dict`` (a type name there selects the pragma
    ``member-name-exceptions`` entry that relaxes member naming)."""
    if value is None or isinstance(value, str):
        return
    if isinstance(value, list):
        if not allow_array:
            raise QAPISemError(info, '%s cannot be an array' % source)
        if len(value) != 1 or not isinstance(value[0], str):
            raise QAPISemError(
                info, '%s: array type must contain single type name' % source)
        return
    if not allow_dict:
        raise QAPISemError(info, '%s should be a type name' % source)
    if not isinstance(value, dict):
        raise QAPISemError(info,
                           '%s should be an object or type name' % source)
    permissive = (isinstance(allow_dict, str)
                  and allow_dict in info.pragma.member_name_exceptions)
    for key, arg in value.items():
        key_source = "%s member '%s'" % (source, key)
        name = key[1:] if key.startswith('*') else key
        check_name_lower(name, info, key_source, permit_upper=permissive,
                         permit_underscore=permissive)
        if c_name(name, False) == 'u' or c_name(name, False).startswith('has_'):
            raise QAPISemError(info, '%s uses reserved name' % key_source)
        assert isinstance(arg, dict)
        check_keys(arg, info, key_source, ['type'], ['if', 'features'])
        check_if(arg, info, key_source)
        check_features(arg.get('features'), info)
        check_type(arg['type'], info, key_source, allow_array=True)


def check_features(features: Optional[object], info: QAPISourceInfo) -> None:
    if features is None:
        return
    if not isinstance(features, list):
        raise QAPISemError(info, "'features' must be an array")
    features[:] = [feat if isinstance(feat, dict) else {'name': feat}
                   for feat in features]
    for feat in features:
        assert isinstance(feat, dict)
        source = "'features' member"
        check_keys(feat, info, source, ['name'], ['if'])
        check_name_is_str(feat['name'], info, source)
        source = "%s '%s'" % (source, feat['name'])
        check_name_lower(cast(str, feat['name']), info, source)
        check_if(feat, info, source)


def check_enum(expr: JSONObject, info: QAPISourceInfo) -> None:
    name = cast(str, expr['enum'])
    members = expr['data']
    prefix = expr.get('prefix')
    if not isinstance(members, list):
        raise QAPISemError(info, "'data' must be an array")
    if prefix is not None and not isinstance(prefix, str):
        raise QAPISemError(info, "'prefix' must be a string")
    permissive = name in info.pragma.member_name_exceptions
    members[:] = [member if isinstance(member, dict) else {'name': member}
                  for member in members]
    for member in members:
        assert isinstance(member, dict)
        source = "'data' member"
        check_keys(member, info, source, ['name'], ['if', 'features'])
        member_name = member['name']
        check_name_is_str(member_name, info, source)
        assert isinstance(member_name, str)
        source = "%s '%s'" % (source, member_name)
        if member_name[:1].isdigit():
            # Values may start with a digit; check the rest as a name.
            member_name = 'd' + member_name
        check_name_lower(member_name, info, source, permit_upper=permissive,
                         permit_underscore=permissive)
        check_if(member, info, source)
        check_features(member.get('features'), info)


def check_struct(expr: JSONObject, info: QAPISourceInfo) -> None:
    name = cast(str, expr['struct'])
    check_type(expr['data'], info, "'data'", allow_dict=name)
    check_type(expr.get('base'), info, "'base'")


def check_union(expr: JSONObject, info: QAPISourceInfo) -> None:
    name = cast(str, expr['union'])
    base = expr['base']
    members = expr['data']
    check_type(base, info, "'base'", allow_dict=name)
    check_name_is_str(expr['discriminator'], info, "'discriminator'")
    if not isinstance(members, dict):
        raise QAPISemError(info, "'data' must be an object")
    for key, value in members.items():
        source = "'data' member '%s'" % key
        assert isinstance(value, dict)
        check_keys(value, info, source, ['type'], ['if'])
        check_if(value, info, source)
        check_type(value['type'], info, source, allow_array=not base)


def check_alternate(expr: JSONObject, info: QAPISourceInfo) -> None:
    members = expr['data']
    if not members:
        raise QAPISemError(info, "'data' must not be empty")
    if not isinstance(members, dict):
        raise QAPISemError(info, "'data' must be an object")
    for key, value in members.items():
        source = "'data' member '%s'" % key
        check_name_lower(key, info, source)
        assert isinstance(value, dict)
        check_keys(value, info, source, ['type'], ['if'])
        check_if(value, info, source)
        check_type(value['type'], info, source, allow_array=True)


def check_command(expr: JSONObject, info: QAPISourceInfo) -> None:
    args = expr.get('data')
    boxed = expr.get('boxed', False)
    if boxed and args is None:
        raise QAPISemError(info, "'boxed': true requires 'data'")
    check_type(args, info, "'data'", allow_dict=not boxed)
    check_type(expr.get('returns'), info, "'returns'", allow_array=True)


def check_event(expr: JSONObject, info: QAPISourceInfo) -> None:
    args = expr.get('data')
    boxed = expr.get('boxed', False)
    if boxed and args is None:
        raise QAPISemError(info, "'boxed': true requires 'data'")
    check_type(args, info, "'data'", allow_dict=not boxed)


def check_exprs(exprs: List[JSONObject]) -> List[JSONObject]:
    """Checks and normalises (in place) the parser's expression list."""
    for elem in exprs:
        expr = elem['expr']
        info = elem['info']
        doc = elem.get('doc')
        assert isinstance(expr, dict)
        assert isinstance(info, QAPISourceInfo)
        assert doc is None or isinstance(doc, QAPIDoc)
        if 'include' in expr:
            continue
        metas = [key for key in META_KEYS if key in expr]
        if len(metas) != 1:
            raise QAPISemError(
                info, "expression must have exactly one key 'enum', 'struct',"
                " 'union', 'alternate', 'command', 'event'")
        meta = metas[0]
        check_name_is_str(expr[meta], info, "'%s'" % meta)
        name = cast(str, expr[meta])
        info.set_defn(meta, name)
        check_defn_name_str(name, info, meta)
        if doc is not None:
            if doc.symbol != name:
                raise QAPISemError(
                    info, "documentation comment is for '%s'" % doc.symbol)
        elif info.pragma.doc_required:
            raise QAPISemError(info, 'documentation comment required')

        if meta == 'enum':
            check_keys(expr, info, meta, ['enum', 'data'],
                       ['if', 'features', 'prefix'])
            check_enum(expr, info)
        elif meta == 'union':
            check_keys(expr, info, meta,
                       ['union', 'base', 'discriminator', 'data'],
                       ['if', 'features'])
            normalize_members(expr.get('base'))
            normalize_members(expr['data'])
            check_union(expr, info)
        elif meta == 'alternate':
            check_keys(expr, info, meta, ['alternate', 'data'],
                       ['if', 'features'])
            normalize_members(expr['data'])
            check_alternate(expr, info)
        elif meta == 'struct':
            check_keys(expr, info, meta, ['struct', 'data'],
                       ['base', 'if', 'features'])
            normalize_members(expr['data'])
            check_struct(expr, info)
        elif meta == 'command':
            check_keys(expr, info, meta, ['command'],
                       ['data', 'returns', 'boxed', 'if', 'features', 'gen',
                        'success-response', 'allow-oob', 'allow-preconfig',
                        'coroutine'])
            normalize_members(expr.get('data'))
            check_command(expr, info)
        else:
            check_keys(expr, info, meta, ['event'],
                       ['data', 'boxed', 'if', 'features'])
            normalize_members(expr.get('data'))
            check_event(expr, info)
        check_if(expr, info, meta)
        check_features(expr.get('features'), info)
        check_flags(expr, info)
    return exprs
