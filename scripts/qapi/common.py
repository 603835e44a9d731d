"""Name mapping from schema names to C++ identifiers."""

import re

# C and C++ keywords and a few words that system headers define as macros: a schema
# name that maps to one of these gets a 'q_' prefix.
_C_WORDS = frozenset('''
    auto break case char const continue default do double else enum extern float for
    goto if int long register return short signed sizeof static struct switch typedef
    union unsigned void volatile while inline restrict _Bool _Complex _Imaginary
    _Alignas _Alignof _Atomic _Generic _Noreturn _Static_assert _Thread_local asm typeof
'''.split())
_CPP_WORDS = frozenset('''
    alignas alignof and and_eq bitand bitor bool catch char8_t char16_t char32_t class
    co_await co_return co_yield compl concept const_cast consteval constexpr constinit
    decltype delete dynamic_cast explicit export false final friend import module mutable
    namespace new noexcept not not_eq nullptr operator or or_eq override private
    protected public reinterpret_cast requires static_assert static_cast template this
    thread_local throw true try typeid typename using virtual wchar_t xor xor_eq
'''.split())
_POLLUTED_WORDS = frozenset(['unix', 'errno', 'mips', 'sparc', 'i386', 'linux'])


def c_name(name: str, protect: bool = True) -> str:
    """Maps a schema name to an identifier: every character other than a letter,
    digit or '_' becomes '_'; with ``protect``, keywords and macro-polluted words get
    a 'q_' prefix ('unix' -> 'q_unix', 'default' -> 'q_default')."""
    ident = re.sub(r'[^A-Za-z0-9_]', '_', name)
    if protect and ident in (_C_WORDS | _CPP_WORDS | _POLLUTED_WORDS):
        return 'q_' + ident
    return ident


def pascal_name(name: str) -> str:
    """PascalCase of a schema name: 'postcopy-active' -> 'PostcopyActive',
    'x-query-ram-digest' -> 'XQueryRamDigest', 'MIGRATION_PASS' -> 'MigrationPass',
    'migrate_cancel' -> 'MigrateCancel'.  A part written all in capitals is
    lower-cased after its first letter; other parts keep their case."""
    parts = [part for part in re.split(r'[^A-Za-z0-9]+', name) if part]
    out = ''
    for part in parts:
        if part.isupper():
            part = part.capitalize()
        out += part[0].upper() + part[1:]
    return out


def enum_const(value: str) -> str:
    """The enumerator of a schema enum value: 'postcopy-active' -> 'kPostcopyActive',
    '1' -> 'k1'."""
    return 'k' + pascal_name(value)


def cpp_string(text: str) -> str:
    """A C++ string literal with the given (ASCII) contents."""
    out = '"'
    for char in text:
        if char in '"\\':
            out += '\\' + char
        elif 32 <= ord(char) < 127:
            out += char
        else:
            out += '\\x%02x' % ord(char)
    return out + '"'
