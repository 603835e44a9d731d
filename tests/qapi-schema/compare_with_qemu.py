#!/usr/bin/env python3
"""Check migemu's QAPI schema (qapi/*.json) against QEMU 7.2.

Three checks, each run when its reference is available:

1. docs: every definition in our schema documents each of its members,
   enum values, union branches' tag, and features ('@name:' lines).
   Always runs.
2. binary: our commands, events and every type they reach are compared
   with the `query-qmp-schema` reply of a real `qemu-system-x86_64`
   (started here with `-M none`), following the masked numeric type
   names: member names, order, optionality, types (as far as
   introspection shows them: all integer types appear as 'int'),
   enum values and their order, union tags and variants, alternate
   members, features, allow-oob.
3. source: each of our definitions is compared with the same-named
   definition in QEMU 7.2's own schema (`--qemu-src`, default
   /tmp/qsrc/qemu-7.2+dfsg): exact member types (uint8 vs size ...),
   `if` conditions, flags (allow-preconfig, boxed, ...), prefixes,
   features.  For the modules in STRICT_MODULES, every QEMU definition
   we do not define must be named in docs/schema.md (the list of
   deliberate omissions).

Differences listed in ALLOWED (the object types migemu does not
implement) are reported as expected.  Exit status: 0 when there is no
unexpected difference, 1 otherwise, 77 (meson's "skipped") when
neither the QEMU binary nor the QEMU source tree is available.

Usage: compare_with_qemu.py [--schema qapi/qapi-schema.json]
           [--qemu qemu-system-x86_64] [--qemu-src DIR]
           [--introspection FILE.json] [--no-binary] [--no-source] [-v]

Standard library only.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

DEFAULT_QEMU_SRC = '/tmp/qsrc/qemu-7.2+dfsg'

# Definitions that are deliberately a subset of QEMU's: migemu accepts
# only the object types it implements.  Values/branches missing here are
# expected differences, provided what remains is in QEMU's order.
SUBSET_ENUMS = {'ObjectType'}
SUBSET_UNIONS = {'ObjectOptions'}

# QEMU modules whose every definition must be either defined by us or
# listed (in backquotes) in docs/schema.md.
# migemu's own extensions (x- commands): checked for docs, never compared with QEMU.
EXTENSION_MODULES = ('migemu.json',)

STRICT_MODULES = ('migration.json', 'control.json', 'introspect.json',
                  'sockets.json', 'error.json', 'authz.json')

BUILTIN_JSON = {
    'str': 'str', 'number': 'number', 'bool': 'bool', 'any': 'any',
    'null': 'null', 'int': 'int', 'size': 'int',
    'int8': 'int', 'int16': 'int', 'int32': 'int', 'int64': 'int',
    'uint8': 'int', 'uint16': 'int', 'uint32': 'int', 'uint64': 'int',
}


class SchemaError(Exception):
    pass


# --------------------------------------------------------------------------
# A small reader for the QAPI schema language (JSON-like, single quotes,
# '#' comments, 'include' and 'pragma' directives, '##' doc blocks).


class Definition:
    def __init__(self, expr, doc, fname, line):
        self.expr = expr
        self.doc = doc          # dict: symbol, args (set), features (set)
        self.fname = fname
        self.line = line
        for meta in ('enum', 'struct', 'union', 'alternate', 'command',
                     'event'):
            if meta in expr:
                self.meta = meta
                self.name = expr[meta]
                break
        else:
            raise SchemaError('%s:%d: unknown definition %r'
                              % (fname, line, list(expr)))


class Lexer:
    def __init__(self, text, fname):
        self.text = text
        self.fname = fname
        self.pos = 0
        self.line = 1
        self.docs = []          # (line, [comment lines]) of '##' blocks

    def error(self, msg):
        raise SchemaError('%s:%d: %s' % (self.fname, self.line, msg))

    def skip_space(self):
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == '\n':
                self.line += 1
                self.pos += 1
            elif c in ' \t\r':
                self.pos += 1
            elif c == '#':
                end = self.text.find('\n', self.pos)
                end = len(self.text) if end < 0 else end
                comment = self.text[self.pos:end]
                if comment == '##':
                    self.read_doc()
                else:
                    self.pos = end
            else:
                return

    def read_doc(self):
        start = self.line
        lines = []
        end = self.text.find('\n', self.pos)
        self.pos = end + 1
        self.line += 1
        while True:
            if self.pos >= len(self.text):
                self.error("doc comment not closed with '##'")
            end = self.text.find('\n', self.pos)
            end = len(self.text) if end < 0 else end
            ln = self.text[self.pos:end]
            self.pos = min(end + 1, len(self.text))
            self.line += 1
            if ln == '##':
                break
            if not ln.strip():
                continue        # QEMU tolerates blank lines here
            if not ln.startswith('#'):
                self.error('doc comment line must start with #')
            lines.append(ln[2:] if ln.startswith('# ') else ln[1:])
        self.docs.append((start, lines))

    def value(self):
        self.skip_space()
        if self.pos >= len(self.text):
            self.error('unexpected end of file')
        c = self.text[self.pos]
        if c == '{':
            self.pos += 1
            obj = OrderedDict()
            self.skip_space()
            if self.text.startswith('}', self.pos):
                self.pos += 1
                return obj
            while True:
                key = self.value()
                if not isinstance(key, str):
                    self.error('expected a string key')
                self.expect(':')
                if key in obj:
                    self.error('duplicate key %r' % key)
                obj[key] = self.value()
                self.skip_space()
                if self.text.startswith(',', self.pos):
                    self.pos += 1
                    continue
                self.expect('}')
                return obj
        if c == '[':
            self.pos += 1
            arr = []
            self.skip_space()
            if self.text.startswith(']', self.pos):
                self.pos += 1
                return arr
            while True:
                arr.append(self.value())
                self.skip_space()
                if self.text.startswith(',', self.pos):
                    self.pos += 1
                    continue
                self.expect(']')
                return arr
        if c == "'":
            end = self.text.find("'", self.pos + 1)
            nl = self.text.find('\n', self.pos + 1)
            if end < 0 or (0 <= nl < end):
                self.error("missing terminating \"'\"")
            s = self.text[self.pos + 1:end]
            self.pos = end + 1
            return s.replace('\\\\', '\\')
        for word, val in (('true', True), ('false', False)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return val
        self.error('stray %r' % c)

    def expect(self, ch):
        self.skip_space()
        if not self.text.startswith(ch, self.pos):
            self.error('expected %r' % ch)
        self.pos += 1

    def at_end(self):
        self.skip_space()
        return self.pos >= len(self.text)


def parse_doc(lines):
    """Return {'symbol', 'args', 'features'} of a definition doc block."""
    if not lines or not lines[0].startswith('@'):
        return None
    doc = {'symbol': lines[0][1:].rstrip(':'), 'args': set(),
           'features': set()}
    in_features = False
    for ln in lines[1:]:
        if ln == 'Features:':
            in_features = True
            continue
        m = re.match(r'@([^:\s]+):', ln)
        if m:
            (doc['features'] if in_features else doc['args']).add(m.group(1))
    return doc


class Schema:
    """All definitions of a schema file and the files it includes."""

    def __init__(self, path):
        self.defs = OrderedDict()
        self.extensions = OrderedDict()  # definitions of EXTENSION_MODULES
        self.modules = OrderedDict()     # basename -> [Definition]
        self._seen = set()
        self._load(os.path.abspath(path), [])

    def _load(self, path, stack):
        if path in stack:
            raise SchemaError('inclusion loop for %s' % path)
        if path in self._seen:
            return
        self._seen.add(path)
        with open(path, encoding='utf-8') as f:
            text = f.read()
        fname = os.path.relpath(path)
        lex = Lexer(text, fname)
        module = self.modules.setdefault(os.path.basename(path), [])
        consumed = 0
        while not lex.at_end():
            # Doc blocks read since the previous expression; the last one
            # belongs to the expression that follows.
            new_docs = lex.docs[consumed:]
            consumed = len(lex.docs)
            line = lex.line
            expr = lex.value()
            if not isinstance(expr, dict):
                lex.error('top-level expression must be an object')
            if 'include' in expr:
                self._load(os.path.join(os.path.dirname(path),
                                        expr['include']), stack + [path])
                continue
            if 'pragma' in expr:
                continue
            doc = parse_doc(new_docs[-1][1]) if new_docs else None
            d = Definition(expr, doc, fname, line)
            if d.name in self.defs or d.name in self.extensions:
                raise SchemaError('%s:%d: %s defined twice'
                                  % (fname, line, d.name))
            if os.path.basename(path) in EXTENSION_MODULES:
                self.extensions[d.name] = d
            else:
                self.defs[d.name] = d
            module.append(d)


# --------------------------------------------------------------------------
# Normal form of definitions (as QEMU's expr.py normalises them).


def norm_features(feats):
    out = []
    for f in feats or []:
        f = {'name': f} if isinstance(f, str) else dict(f)
        out.append(f)
    return out


def norm_members(data):
    """Inline member dict -> list of (name, optional, {type,if,features})."""
    out = []
    for key, val in data.items():
        opt = key.startswith('*')
        name = key[1:] if opt else key
        val = {'type': val} if not isinstance(val, dict) else dict(val)
        if 'features' in val:
            val['features'] = norm_features(val['features'])
        out.append((name, opt, val))
    return out


def norm_enum_values(data):
    out = []
    for v in data:
        v = {'name': v} if isinstance(v, str) else dict(v)
        if 'features' in v:
            v['features'] = norm_features(v['features'])
        out.append(v)
    return out


def normalize(expr):
    """A comparable, order-preserving form of one definition."""
    e = OrderedDict()
    for key, val in expr.items():
        if key == 'features':
            val = norm_features(val)
        elif key == 'data' and 'enum' in expr:
            val = norm_enum_values(val)
        elif key == 'data' and isinstance(val, dict):
            val = norm_members(val)
        elif key == 'base' and isinstance(val, dict):
            val = norm_members(val)
        e[key] = val
    return e


# --------------------------------------------------------------------------
# Canonical structure of a type, in introspection terms.


class Canon:
    """Builds canonical type descriptions from our schema or from a
    query-qmp-schema reply, so the two can be compared structurally."""

    def __init__(self):
        self.memo = {}


class OurCanon(Canon):
    def __init__(self, schema):
        super().__init__()
        self.s = schema

    def members_of(self, d):
        """Flattened (name, optional, type, features) of a struct/union."""
        e = d.expr
        out = []
        base = e.get('base')
        if isinstance(base, str):
            out += self.members_of(self.s.defs[base])
        elif isinstance(base, dict):
            out += [(n, o, v['type'], v.get('features', []))
                    for n, o, v in norm_members(base)]
        if d.meta == 'struct':
            out += [(n, o, v['type'], v.get('features', []))
                    for n, o, v in norm_members(e.get('data', {}))]
        return out

    def object_canon(self, name, members, tag=None, variants=None,
                     features=None):
        return {'kind': 'object', 'name': name,
                'members': [{'name': n, 'optional': o,
                             'type': self.ref(t),
                             'features': sorted(f['name']
                                                for f in norm_features(fs))}
                            for n, o, t, fs in members],
                'tag': tag, 'variants': variants,
                'features': sorted(f['name']
                                   for f in norm_features(features))}

    def ref(self, t):
        if isinstance(t, list):
            return {'kind': 'array', 'elem': self.ref(t[0])}
        if t in BUILTIN_JSON:
            return {'kind': 'builtin', 'name': BUILTIN_JSON[t]}
        if t in self.memo:
            return self.memo[t]
        d = self.s.defs.get(t)
        if d is None:
            raise SchemaError('unknown type %r' % t)
        out = {}
        self.memo[t] = out
        e = d.expr
        feats = sorted(f['name'] for f in norm_features(e.get('features')))
        if d.meta == 'enum':
            vals = norm_enum_values(e['data'])
            out.update({'kind': 'enum', 'name': t,
                        'values': [v['name'] for v in vals],
                        'value_features': {
                            v['name']: sorted(f['name'] for f in
                                              v.get('features', []))
                            for v in vals},
                        'features': feats})
        elif d.meta == 'struct':
            out.update(self.object_canon(t, self.members_of(d),
                                         features=e.get('features')))
        elif d.meta == 'union':
            members = self.members_of(d)
            tag = e['discriminator']
            tag_type = [m for m in members if m[0] == tag][0][2]
            cases = norm_enum_values(self.s.defs[tag_type].expr['data'])
            variants = OrderedDict()
            for c in cases:
                br = e['data'].get(c['name'])
                if br is None:
                    variants[c['name']] = self.object_canon('q_empty', [])
                else:
                    br = br['type'] if isinstance(br, dict) else br
                    variants[c['name']] = self.ref(br)
            out.update(self.object_canon(t, members, tag, variants,
                                         e.get('features')))
        elif d.meta == 'alternate':
            out.update({'kind': 'alternate', 'name': t,
                        'members': [self.ref(v['type'] if isinstance(v, dict)
                                             else v)
                                    for v in e['data'].values()],
                        'features': feats})
        else:
            raise SchemaError('%s is not a type' % t)
        return out

    def args(self, d):
        """Canonical argument (or event data) type of a command/event."""
        data = d.expr.get('data')
        if data is None:
            return self.object_canon('q_empty', [])
        if isinstance(data, str):
            return self.ref(data)
        return self.object_canon('q_obj_%s-arg' % d.name,
                                 [(n, o, v['type'], v.get('features', []))
                                  for n, o, v in norm_members(data)])

    def ret(self, d):
        r = d.expr.get('returns')
        if r is None:
            return self.object_canon('q_empty', [])
        return self.ref(r)


class BinCanon(Canon):
    def __init__(self, entries):
        super().__init__()
        self.by = {e['name']: e for e in entries}

    def ref(self, name):
        if name in self.memo:
            return self.memo[name]
        e = self.by.get(name)
        if e is None:
            raise SchemaError('introspection lacks type %r' % name)
        out = {}
        self.memo[name] = out
        mt = e['meta-type']
        feats = sorted(e.get('features', []))
        if mt == 'builtin':
            out.update({'kind': 'builtin', 'name': name})
        elif mt == 'array':
            out.update({'kind': 'array', 'elem': self.ref(e['element-type'])})
        elif mt == 'enum':
            members = e.get('members') or [{'name': v} for v in e['values']]
            out.update({'kind': 'enum', 'name': name,
                        'values': [m['name'] for m in members],
                        'value_features': {
                            m['name']: sorted(m.get('features', []))
                            for m in members},
                        'features': feats})
        elif mt == 'object':
            variants = None
            if 'tag' in e:
                variants = OrderedDict((v['case'], self.ref(v['type']))
                                       for v in e['variants'])
            out.update({'kind': 'object', 'name': name,
                        'members': [{'name': m['name'],
                                     'optional': 'default' in m,
                                     'type': self.ref(m['type']),
                                     'features': sorted(m.get('features',
                                                              []))}
                                    for m in e['members']],
                        'tag': e.get('tag'), 'variants': variants,
                        'features': feats})
        elif mt == 'alternate':
            out.update({'kind': 'alternate', 'name': name,
                        'members': [self.ref(m['type'])
                                    for m in e['members']],
                        'features': feats})
        else:
            raise SchemaError('%s is not a type' % name)
        return out


class Report:
    def __init__(self, verbose):
        self.unexpected = []
        self.expected = []
        self.notes = []
        self.verbose = verbose

    def diff(self, where, msg, expected=False):
        (self.expected if expected else self.unexpected).append(
            '%s: %s' % (where, msg))

    def note(self, msg):
        self.notes.append(msg)


def is_subsequence(small, big):
    it = iter(big)
    return all(x in it for x in small)


def compare_types(ours, theirs, where, rep, mapping, seen):
    """Structurally compare two canonical types; record name mapping."""
    if ours['kind'] != theirs['kind']:
        rep.diff(where, 'kind %s, QEMU has %s' % (ours['kind'],
                                                 theirs['kind']))
        return
    kind = ours['kind']
    if kind == 'builtin':
        if ours['name'] != theirs['name']:
            rep.diff(where, 'type %s, QEMU has %s' % (ours['name'],
                                                     theirs['name']))
        return
    if kind == 'array':
        compare_types(ours['elem'], theirs['elem'], where + '[]', rep,
                      mapping, seen)
        return
    key = (ours['name'], theirs['name'])
    if key in seen:
        return
    seen.add(key)
    if ours['name'] not in ('q_empty',) and \
            not ours['name'].startswith('q_obj_'):
        mapping.setdefault(ours['name'], set()).add(theirs['name'])
    where = '%s (%s)' % (where, ours['name'])
    if ours['features'] != theirs['features']:
        rep.diff(where, 'features %s, QEMU has %s'
                 % (ours['features'], theirs['features']))
    if kind == 'enum':
        if ours['values'] != theirs['values']:
            subset = (ours['name'] in SUBSET_ENUMS
                      and is_subsequence(ours['values'], theirs['values']))
            missing = [v for v in theirs['values']
                       if v not in ours['values']]
            extra = [v for v in ours['values'] if v not in theirs['values']]
            rep.diff(where, 'enum values differ: missing %s, extra %s%s'
                     % (missing, extra,
                        '' if missing or extra else ', order differs'),
                     expected=subset and not extra)
        for v in ours['values']:
            if v in theirs['value_features'] and \
                    ours['value_features'][v] != theirs['value_features'][v]:
                rep.diff(where, 'value %s features %s, QEMU has %s'
                         % (v, ours['value_features'][v],
                            theirs['value_features'][v]))
        return
    if kind == 'alternate':
        if len(ours['members']) != len(theirs['members']):
            rep.diff(where, 'alternate has %d members, QEMU %d'
                     % (len(ours['members']), len(theirs['members'])))
            return
        for i, (a, b) in enumerate(zip(ours['members'], theirs['members'])):
            compare_types(a, b, '%s alternative %d' % (where, i), rep,
                          mapping, seen)
        return
    # object
    on = [m['name'] for m in ours['members']]
    tn = [m['name'] for m in theirs['members']]
    if on != tn:
        rep.diff(where, 'members %s, QEMU has %s' % (on, tn))
    tm = {m['name']: m for m in theirs['members']}
    for m in ours['members']:
        t = tm.get(m['name'])
        if t is None:
            continue
        mw = "%s member '%s'" % (where, m['name'])
        if m['optional'] != t['optional']:
            rep.diff(mw, 'optional=%s, QEMU has optional=%s'
                     % (m['optional'], t['optional']))
        if m['features'] != t['features']:
            rep.diff(mw, 'features %s, QEMU has %s'
                     % (m['features'], t['features']))
        compare_types(m['type'], t['type'], mw, rep, mapping, seen)
    if ours['tag'] != theirs['tag']:
        rep.diff(where, 'tag %s, QEMU has %s' % (ours['tag'], theirs['tag']))
    if ours['variants'] is not None and theirs['variants'] is not None:
        ov, tv = ours['variants'], theirs['variants']
        missing = [c for c in tv if c not in ov]
        extra = [c for c in ov if c not in tv]
        if missing or extra:
            rep.diff(where, 'variants missing %s, extra %s' % (missing, extra),
                     expected=ours['name'] in SUBSET_UNIONS and not extra)
        for case, otype in ov.items():
            if case in tv:
                compare_types(otype, tv[case], "%s variant '%s'"
                              % (where, case), rep, mapping, seen)


def check_binary(schema, entries, rep):
    ours = OurCanon(schema)
    theirs = BinCanon(entries)
    by = theirs.by
    mapping = {}
    seen = set()
    ncmd = nev = 0
    for d in schema.defs.values():
        if d.meta not in ('command', 'event'):
            continue
        where = '%s %s' % (d.meta, d.name)
        e = by.get(d.name)
        if e is None or e['meta-type'] != d.meta:
            rep.diff(where, 'not in QEMU introspection')
            continue
        if sorted(f['name'] for f in norm_features(d.expr.get('features'))) \
                != sorted(e.get('features', [])):
            rep.diff(where, 'features differ: %s vs QEMU %s'
                     % (d.expr.get('features'), e.get('features')))
        compare_types(ours.args(d), theirs.ref(e['arg-type']),
                      where + ' arguments', rep, mapping, seen)
        if d.meta == 'command':
            ncmd += 1
            compare_types(ours.ret(d), theirs.ref(e['ret-type']),
                          where + ' return', rep, mapping, seen)
            if bool(d.expr.get('allow-oob')) != bool(e.get('allow-oob')):
                rep.diff(where, 'allow-oob %s, QEMU %s'
                         % (d.expr.get('allow-oob'), e.get('allow-oob')))
        else:
            nev += 1
    ntypes = 0
    for d in schema.defs.values():
        if d.meta in ('command', 'event'):
            continue
        if d.name in mapping:
            ntypes += 1
            if len(mapping[d.name]) > 1:
                rep.diff('type %s' % d.name,
                         'matches several QEMU types %s'
                         % sorted(mapping[d.name]))
        else:
            rep.note('type %s: not reachable from any command or event, '
                     'so absent from introspection (checked against the '
                     'source only)' % d.name)
    rep.note('binary: compared %d commands, %d events, %d types'
             % (ncmd, nev, ntypes))


def diff_values(where, key, ours, theirs, rep):
    """Report how one key of a normalized definition differs."""
    def keyed(val):
        # Member lists [(name, optional, spec)] and enum value lists
        # [{'name': ...}] become name -> rest, to report per entry.
        if isinstance(val, list) and val and all(
                isinstance(x, tuple) and len(x) == 3 for x in val):
            return OrderedDict((n, {'optional': o, **v}) for n, o, v in val)
        if isinstance(val, list) and val and all(
                isinstance(x, dict) and 'name' in x for x in val):
            return OrderedDict((x['name'], x) for x in val)
        return None
    ko, kt = keyed(ours), keyed(theirs)
    if ko is None or kt is None:
        rep.diff(where, '%s: %s, QEMU has %s'
                 % (key, json.dumps(ours), json.dumps(theirs)))
        return
    missing = [n for n in kt if n not in ko]
    extra = [n for n in ko if n not in kt]
    if missing or extra:
        rep.diff(where, '%s: missing %s, extra %s' % (key, missing, extra))
    common_o = [n for n in ko if n in kt]
    common_t = [n for n in kt if n in ko]
    if common_o != common_t:
        rep.diff(where, '%s: order %s, QEMU has %s'
                 % (key, common_o, common_t))
    for n in common_o:
        if ko[n] != kt[n]:
            rep.diff(where, "%s '%s': %s, QEMU has %s"
                     % (key, n, json.dumps(ko[n]), json.dumps(kt[n])))


def check_source(schema, qemu, docs_text, rep):
    n = 0
    for d in schema.defs.values():
        where = '%s %s' % (d.meta, d.name)
        q = qemu.defs.get(d.name)
        if q is None:
            rep.diff(where, 'not defined in QEMU 7.2 source')
            continue
        n += 1
        a, b = normalize(d.expr), normalize(q.expr)
        if d.name in SUBSET_ENUMS:
            an = [v['name'] for v in a['data']]
            bn = [v['name'] for v in b['data']]
            kept = [v for v in b['data'] if v['name'] in an]
            ok = is_subsequence(an, bn) and kept == a['data']
            rep.diff(where, 'values are a subset of QEMU\'s (%d of %d)'
                     % (len(an), len(bn)), expected=ok)
            a = dict(a, data=None)
            b = dict(b, data=None)
        if d.name in SUBSET_UNIONS:
            ad = OrderedDict((k, v) for k, _, v in a['data'])
            bd = OrderedDict((k, v) for k, _, v in b['data'])
            kept = [(k, bd[k]) for k in bd if k in ad]
            ok = kept == list(ad.items())
            rep.diff(where, 'branches are a subset of QEMU\'s (%d of %d)'
                     % (len(ad), len(bd)), expected=ok)
            a = dict(a, data=None)
            b = dict(b, data=None)
        if list(a.keys()) != list(b.keys()) and \
                sorted(a.keys()) != sorted(b.keys()):
            rep.diff(where, 'keys %s, QEMU has %s'
                     % (sorted(a.keys()), sorted(b.keys())))
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                diff_values(where, key, a.get(key), b.get(key), rep)
    rep.note('source: compared %d definitions' % n)
    # Omissions must be documented for the strict modules.
    listed = set(re.findall(r'`([A-Za-z0-9_-]+)`', docs_text))
    for mod in STRICT_MODULES:
        for q in qemu.modules.get(mod, []):
            if q.name in schema.defs:
                continue
            msg = 'QEMU %s defines it; migemu does not' % mod
            if q.name in listed:
                rep.diff('%s %s' % (q.meta, q.name),
                         msg + ' (listed in docs/schema.md)', expected=True)
            else:
                rep.diff('%s %s' % (q.meta, q.name),
                         msg + ' and docs/schema.md does not list it')


def check_docs(schema, rep):
    for d in list(schema.defs.values()) + list(schema.extensions.values()):
        where = '%s:%d: %s' % (d.fname, d.line, d.name)
        if d.doc is None or d.doc['symbol'] != d.name:
            rep.diff(where, 'no doc comment naming it')
            continue
        e = d.expr
        want, feats = [], []
        feats += [f['name'] for f in norm_features(e.get('features'))]
        if d.meta == 'enum':
            for v in norm_enum_values(e['data']):
                want.append(v['name'])
                feats += [f['name'] for f in v.get('features', [])]
        elif d.meta == 'alternate':
            want += list(e['data'])
        else:
            data = e.get('data')
            parts = []
            if isinstance(e.get('base'), dict):
                parts.append(e['base'])
            if isinstance(data, dict) and d.meta != 'union':
                parts.append(data)
            for p in parts:
                for n, _, v in norm_members(p):
                    want.append(n)
                    feats += [f['name'] for f in v.get('features', [])]
        for n in want:
            if n not in d.doc['args']:
                rep.diff(where, "member '%s' is not documented" % n)
        for n in d.doc['args']:
            if n not in want:
                rep.diff(where, "documents '%s', which does not exist" % n)
        for f in set(feats):
            if f not in d.doc['features']:
                rep.diff(where, "feature '%s' is not documented" % f)


# --------------------------------------------------------------------------
# Talking to the real binary.


def qmp_read(sock, buf):
    while b'\n' not in buf:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise SchemaError('QEMU closed the QMP connection')
        buf += chunk
    line, _, rest = buf.partition(b'\n')
    return json.loads(line), rest


def qmp_command(sock, buf, name):
    sock.sendall(json.dumps({'execute': name}).encode() + b'\n')
    while True:
        msg, buf = qmp_read(sock, buf)
        if 'event' in msg:
            continue
        if 'error' in msg:
            raise SchemaError('%s failed: %s' % (name, msg['error']))
        return msg['return'], buf


def fetch_introspection(qemu):
    tmp = tempfile.mkdtemp(prefix='qapi-compare-')
    path = os.path.join(tmp, 'qmp.sock')
    proc = subprocess.Popen(
        [qemu, '-M', 'none', '-nodefaults', '-display', 'none',
         '-qmp', 'unix:%s,server=on,wait=off' % path],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        while True:
            try:
                sock.connect(path)
                break
            except OSError:
                if proc.poll() is not None:
                    raise SchemaError('QEMU exited: %s' % proc.stderr.read()
                                      .decode(errors='replace').strip())
                if time.monotonic() > deadline:
                    raise SchemaError('QEMU QMP socket did not appear')
                time.sleep(0.05)
        buf = b''
        _greeting, buf = qmp_read(sock, buf)
        _, buf = qmp_command(sock, buf, 'qmp_capabilities')
        schema, buf = qmp_command(sock, buf, 'query-qmp-schema')
        try:
            qmp_command(sock, buf, 'quit')
        except (SchemaError, OSError):
            pass
        sock.close()
        return schema
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--schema',
                    default=os.path.join(ROOT, 'qapi', 'qapi-schema.json'))
    ap.add_argument('--docs', default=os.path.join(ROOT, 'docs',
                                                   'schema.md'))
    ap.add_argument('--qemu', default='qemu-system-x86_64')
    ap.add_argument('--qemu-src', default=DEFAULT_QEMU_SRC)
    ap.add_argument('--introspection',
                    help='use this saved query-qmp-schema reply instead '
                    'of starting QEMU')
    ap.add_argument('--no-binary', action='store_true')
    ap.add_argument('--no-source', action='store_true')
    ap.add_argument('-v', '--verbose', action='store_true',
                    help='also print expected differences and notes')
    args = ap.parse_args()

    rep = Report(args.verbose)
    try:
        schema = Schema(args.schema)
    except (SchemaError, OSError) as e:
        print('error: %s' % e)
        return 1
    check_docs(schema, rep)

    ran = []
    if not args.no_binary:
        entries = None
        if args.introspection:
            with open(args.introspection) as f:
                entries = json.load(f)
        elif shutil.which(args.qemu):
            try:
                entries = fetch_introspection(shutil.which(args.qemu))
            except (SchemaError, OSError) as e:
                print('error: cannot query %s: %s' % (args.qemu, e))
                return 1
        else:
            rep.note('binary: %s not found, check skipped' % args.qemu)
        if entries is not None:
            check_binary(schema, entries, rep)
            ran.append('binary')

    src = os.path.join(args.qemu_src, 'qapi', 'qapi-schema.json')
    if not args.no_source:
        if os.path.exists(src):
            try:
                qemu = Schema(src)
            except (SchemaError, OSError) as e:
                print('error: cannot read QEMU schema: %s' % e)
                return 1
            docs_text = ''
            if os.path.exists(args.docs):
                with open(args.docs) as f:
                    docs_text = f.read()
            check_source(schema, qemu, docs_text, rep)
            ran.append('source')
        else:
            rep.note('source: %s not found, check skipped' % src)

    if args.verbose:
        for n in rep.notes:
            print('note: %s' % n)
        for x in rep.expected:
            print('expected: %s' % x)
    for x in rep.unexpected:
        print('DIFF: %s' % x)
    print('%d definitions; checks run: docs%s; %d unexpected differences, '
          '%d expected (deliberate omissions)'
          % (len(schema.defs), ''.join(', ' + r for r in ran),
             len(rep.unexpected), len(rep.expected)))
    if rep.unexpected:
        return 1
    if not ran:
        print('neither QEMU binary nor QEMU source available: skipped')
        return SKIP
    return 0


if __name__ == '__main__':
    sys.exit(main())
