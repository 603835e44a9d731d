"""Lexer and parser of the QAPI schema language.

The language is JSON-like: single-quoted strings (printable ASCII, the only escape is
``\\\\``), ``true``/``false``, objects and arrays, ``#`` comments.  A ``##`` line opens a
documentation block that the next ``##`` line closes.  Top-level values are objects; the
directives ``include`` and ``pragma`` are handled here, everything else is passed on as an
expression for ``expr.check_exprs``.
"""

import os
import re
from typing import Dict, List, Optional, Set, Union

from .error import QAPISemError, QAPISourceError
from .source import QAPISourceInfo

# A parsed value: object (insertion-ordered dict), array, string or boolean.
ParsedValue = Union[Dict[str, object], List[object], str, bool]


class QAPIParseError(QAPISourceError):
    """A syntax error; reported with the column of the offending token."""

    def __init__(self, parser: 'QAPISchemaParser', msg: str) -> None:
        col = 1
        for char in parser.src[parser.line_pos:parser.pos]:
            if char == '\t':
                col = (col + 7) % 8 + 1
            else:
                col += 1
        super().__init__(parser.info, msg, col)


class QAPIDoc:
    """A documentation block.

    A definition block starts with ``# @Name:`` and documents that definition; its
    ``# @member: text`` lines describe members, ``Tag: text`` lines open sections
    (``Returns:``, ``Since:``, ...).  Any other block is free-form.  The generator keeps
    the text to emit comments; it does not render documentation.
    """

    _SECTION_RE = re.compile(r'([A-Z][A-Za-z ]*):( |$)')

    def __init__(self, info: QAPISourceInfo) -> None:
        self.info = info
        self.symbol: Optional[str] = None
        self.body: List[str] = []
        self.args: Dict[str, List[str]] = {}
        self.sections: List[str] = []
        self._current: Optional[List[str]] = self.body
        self._first = True

    def append(self, line: str) -> None:
        """Adds one comment line (with its leading ``#``)."""
        text = line[1:]
        if text.startswith(' '):
            text = text[1:]
        if self._first:
            self._first = False
            match = re.match(r'@([^:]+):\s*$', text)
            if match:
                self.symbol = match.group(1)
                return
        arg = re.match(r'@([^:\s]+):\s?(.*)$', text)
        if arg and self.symbol is not None:
            lines = self.args.setdefault(arg.group(1), [])
            if arg.group(2):
                lines.append(arg.group(2).rstrip())
            self._current = lines
            return
        section = self._SECTION_RE.match(text)
        if section and self.symbol is not None:
            self.sections.append(section.group(1))
            self._current = None
            return
        if self._current is not None:
            self._current.append(text.rstrip())

    def summary(self) -> List[str]:
        """The body text without leading/trailing blank lines."""
        lines = list(self.body)
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        return lines


class QAPISchemaParser:
    """Parses one schema file (and, recursively, the files it includes).

    Results: ``exprs``, a list of ``{'expr': ..., 'info': ..., 'doc': ...}`` in source
    order (an ``include`` leaves an ``{'include': path}`` marker, followed by the
    included file's expressions), and ``docs``, every documentation block.
    """

    def __init__(self, fname: str,
                 previously_included: Optional[Set[str]] = None,
                 incl_info: Optional[QAPISourceInfo] = None) -> None:
        self._fname = fname
        self._included = (previously_included if previously_included is not None
                          else set())
        self._included.add(os.path.abspath(fname))
        self.src = ''
        self.info = QAPISourceInfo(fname, incl_info)
        self.tok: Optional[str] = None
        self.val: Union[None, str, bool] = None
        self.pos = 0
        self.cursor = 0
        self.line_pos = 0
        self.exprs: List[Dict[str, object]] = []
        self.docs: List[QAPIDoc] = []
        self._parse()

    # -- top level ------------------------------------------------------------------

    def _parse(self) -> None:
        with open(self._fname, 'r', encoding='utf-8') as handle:
            try:
                self.src = handle.read()
            except UnicodeDecodeError as err:
                raise QAPISemError(self.info,
                                   'file is not valid UTF-8 (byte offset %d)'
                                   % err.start) from err
        if not self.src.endswith('\n'):
            self.src += '\n'
        self.accept()
        pending_doc: Optional[QAPIDoc] = None
        while self.tok is not None:
            info = self.info
            if self.tok == '#':
                self._reject_doc(pending_doc)
                pending_doc = None
                for doc in self._get_doc(info):
                    self.docs.append(doc)
                    pending_doc = doc
                continue
            expr = self._get_value()
            if not isinstance(expr, dict):
                raise QAPISemError(info, 'top-level expression must be an object')
            if 'include' in expr:
                self._reject_doc(pending_doc)
                self._directive_include(expr, info)
            elif 'pragma' in expr:
                self._reject_doc(pending_doc)
                self._directive_pragma(expr, info)
            else:
                elem: Dict[str, object] = {'expr': expr, 'info': info}
                if pending_doc is not None:
                    if pending_doc.symbol is None:
                        raise QAPISemError(pending_doc.info,
                                           'definition documentation required')
                    elem['doc'] = pending_doc
                self.exprs.append(elem)
            pending_doc = None
        self._reject_doc(pending_doc)

    @staticmethod
    def _reject_doc(doc: Optional[QAPIDoc]) -> None:
        if doc is not None and doc.symbol is not None:
            raise QAPISemError(
                doc.info,
                "documentation for '%s' is not followed by the definition"
                % doc.symbol)

    def _directive_include(self, expr: Dict[str, object],
                           info: QAPISourceInfo) -> None:
        if len(expr) != 1:
            raise QAPISemError(info, "invalid 'include' directive")
        include = expr['include']
        if not isinstance(include, str):
            raise QAPISemError(info, "value of 'include' must be a string")
        incl_fname = os.path.join(os.path.dirname(self._fname), include)
        self.exprs.append({'expr': {'include': incl_fname}, 'info': info})
        incl_abs = os.path.abspath(incl_fname)
        walk: Optional[QAPISourceInfo] = info
        while walk is not None:
            if os.path.abspath(walk.fname) == incl_abs:
                raise QAPISemError(info, 'inclusion loop for %s' % include)
            walk = walk.parent
        if incl_abs in self._included:
            return
        try:
            sub = QAPISchemaParser(incl_fname, self._included, info)
        except OSError as err:
            raise QAPISemError(
                info, "can't read include file '%s': %s"
                % (incl_fname, err.strerror)) from err
        self.exprs.extend(sub.exprs)
        self.docs.extend(sub.docs)

    @staticmethod
    def _directive_pragma(expr: Dict[str, object], info: QAPISourceInfo) -> None:
        if len(expr) != 1:
            raise QAPISemError(info, "invalid 'pragma' directive")
        pragma = expr['pragma']
        if not isinstance(pragma, dict):
            raise QAPISemError(info, "value of 'pragma' must be an object")
        for name, value in pragma.items():
            if name == 'doc-required':
                if not isinstance(value, bool):
                    raise QAPISemError(info,
                                       "pragma 'doc-required' must be boolean")
                info.pragma.doc_required = value
                continue
            if name not in ('command-name-exceptions',
                            'command-returns-exceptions',
                            'member-name-exceptions'):
                raise QAPISemError(info, "unknown pragma '%s'" % name)
            if (not isinstance(value, list)
                    or not all(isinstance(elt, str) for elt in value)):
                raise QAPISemError(info,
                                   'pragma %s must be a list of strings' % name)
            names = [str(elt) for elt in value]
            if name == 'command-name-exceptions':
                info.pragma.command_name_exceptions = names
            elif name == 'command-returns-exceptions':
                info.pragma.command_returns_exceptions = names
            else:
                info.pragma.member_name_exceptions = names

    # -- lexer ----------------------------------------------------------------------

    def accept(self, skip_comment: bool = True) -> None:
        """Reads the next token into ``tok``/``val``.

        ``tok`` is one of ``{}:,[]``, ``'`` (string, text in ``val``), ``t``/``f``
        (booleans), ``#`` (a comment line, only for documentation blocks or when
        ``skip_comment`` is false) or None at the end of the file.
        """
        while True:
            self.tok = self.src[self.cursor]
            self.pos = self.cursor
            self.cursor += 1
            self.val = None
            if self.tok == '#':
                keep = not skip_comment or self.src[self.cursor] == '#'
                self.cursor = self.src.find('\n', self.cursor)
                if keep:
                    self.val = self.src[self.pos:self.cursor]
                    return
            elif self.tok in '{}:,[]':
                return
            elif self.tok == "'":
                self.val = self._lex_string()
                return
            elif self.src.startswith('true', self.pos):
                self.val = True
                self.cursor += 3
                return
            elif self.src.startswith('false', self.pos):
                self.val = False
                self.cursor += 4
                return
            elif self.tok == '\n':
                if self.cursor == len(self.src):
                    self.tok = None
                    return
                self.info = self.info.next_line()
                self.line_pos = self.cursor
            elif not self.tok.isspace():
                match = re.match(r'[^\[\]{}:,\s\'"]+', self.src[self.pos:])
                stray = match.group(0) if match else self.tok
                raise QAPIParseError(self, "stray '%s'" % stray)

    def _lex_string(self) -> str:
        text = ''
        escaped = False
        while True:
            char = self.src[self.cursor]
            self.cursor += 1
            if char == '\n':
                raise QAPIParseError(self, 'missing terminating "\'"')
            if escaped:
                if char != '\\':
                    raise QAPIParseError(self, 'unknown escape \\%s' % char)
                escaped = False
            elif char == '\\':
                escaped = True
                continue
            elif char == "'":
                return text
            if not 32 <= ord(char) < 127:
                raise QAPIParseError(self, 'funny character in string')
            text += char

    # -- grammar --------------------------------------------------------------------

    def _get_value(self) -> ParsedValue:
        if self.tok == '{':
            self.accept()
            return self._get_members()
        if self.tok == '[':
            self.accept()
            return self._get_values()
        if self.tok is not None and self.tok in "'tf":
            val = self.val
            assert isinstance(val, (str, bool))
            self.accept()
            return val
        raise QAPIParseError(self, "expected '{', '[', string, or boolean")

    def _get_members(self) -> Dict[str, object]:
        members: Dict[str, object] = {}
        if self.tok == '}':
            self.accept()
            return members
        if self.tok != "'":
            raise QAPIParseError(self, "expected string or '}'")
        while True:
            key = self.val
            assert isinstance(key, str)
            self.accept()
            if self.tok != ':':
                raise QAPIParseError(self, "expected ':'")
            self.accept()
            if key in members:
                raise QAPIParseError(self, "duplicate key '%s'" % key)
            members[key] = self._get_value()
            if self.tok == '}':
                self.accept()
                return members
            if self.tok != ',':
                raise QAPIParseError(self, "expected ',' or '}'")
            self.accept()
            if self.tok != "'":
                raise QAPIParseError(self, 'expected string')

    def _get_values(self) -> List[object]:
        values: List[object] = []
        if self.tok == ']':
            self.accept()
            return values
        if self.tok is None or self.tok not in "{['tf":
            raise QAPIParseError(
                self, "expected '{', '[', ']', string, or boolean")
        while True:
            values.append(self._get_value())
            if self.tok == ']':
                self.accept()
                return values
            if self.tok != ',':
                raise QAPIParseError(self, "expected ',' or ']'")
            self.accept()

    def _get_doc(self, info: QAPISourceInfo) -> List[QAPIDoc]:
        if self.val != '##':
            raise QAPIParseError(
                self, "junk after '##' at start of documentation comment")
        docs: List[QAPIDoc] = []
        doc = QAPIDoc(info)
        self.accept(False)
        while self.tok == '#':
            line = self.val
            assert isinstance(line, str)
            if line.startswith('##'):
                if line != '##':
                    raise QAPIParseError(
                        self, "junk after '##' at end of documentation comment")
                docs.append(doc)
                self.accept()
                return docs
            if line.startswith('# ='):
                if doc.symbol is not None:
                    raise QAPIParseError(
                        self,
                        "unexpected '=' markup in definition documentation")
                if doc.body:
                    docs.append(doc)
                    doc = QAPIDoc(info)
            doc.append(line)
            self.accept(False)
        raise QAPIParseError(self, "documentation comment must end with '##'")
