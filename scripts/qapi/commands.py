"""Backend: command interfaces and dispatch glue (qapi-commands-<module>.h).

Per module with commands, an abstract class ``<Module>Commands`` with one pure virtual
method per command (``query-migrate`` -> ``QueryMigrate``), and
``Register<Module>Commands(CommandRegistry&, <Module>Commands&)``, which registers a
marshaller per command: arguments are unmarshalled with QEMU's input rules (unknown
members rejected), the method called, its result marshalled (``{}`` when the command
returns nothing).  Commands with ``'gen': false`` are left to hand-written code.
"""

import os
from typing import Dict, List, Tuple

from .common import cpp_string, pascal_name
from .error import QAPISemError
from .gen import ModularVisitor, doc_comment, type_name
from .schema import (
    QAPISchemaCommand,
    QAPISchemaModule,
    QAPISchemaType,
)

_ALLOC = 'rapidjson::Document::AllocatorType& alloc'


class CommandsVisitor(ModularVisitor):
    what = 'commands'
    builtin_files = False

    def begin_module(self, module: QAPISchemaModule) -> None:
        self._commands: List[QAPISchemaCommand] = []

    def visit_command(self, cmd: QAPISchemaCommand) -> None:
        if cmd.gen and self.conds.on(cmd.ifcond):
            self._commands.append(cmd)

    def class_name(self, module: QAPISchemaModule) -> str:
        base = os.path.splitext(os.path.basename(module.name))[0]
        return pascal_name(base) + 'Commands'

    def _signature(self, cmd: QAPISchemaCommand) -> Tuple[str, str, str]:
        """(method name, parameter list, return type) of a command's method."""
        method = pascal_name(cmd.name)
        params = ''
        if cmd.arg_type is not None:
            params = 'const %s& arg' % type_name(self.schema, cmd.arg_type)
        if cmd.ret_type is None:
            ret = 'absl::Status'
        else:
            ret = 'absl::StatusOr<%s>' % type_name(self.schema, cmd.ret_type)
        return method, params, ret

    def end_module(self, module: QAPISchemaModule) -> None:
        used: List[QAPISchemaType] = []
        for cmd in self._commands:
            if cmd.arg_type is not None:
                used.append(cmd.arg_type)
            if cmd.ret_type is not None:
                used.append(cmd.ret_type)
        project = ['qapi/command_registry.h',
                   self.config.include(self.file_stem(module, 'types') + '.h')]
        project += [self.config.include(self.file_stem(mod, 'types') + '.h')
                    for mod in self.modules_used(used)]
        if module is self.schema.main_module:
            project += [self.config.include(self.file_stem(mod) + '.h')
                        for mod in self.schema.user_modules() if mod is not module]
        system = ['cstdint', 'string', 'vector'] if self._commands else []
        third = (['absl/status/status.h', 'absl/status/statusor.h']
                 if self._commands else [])
        self.h.add(self.header_open(system, third, project))
        self.c.add('#include "%s"\n\n' % self.config.include(self.h.fname))
        if self._commands:
            self._gen(module, used)
        self.h.add(self.header_close())

    def _gen(self, module: QAPISchemaModule, used: List[QAPISchemaType]) -> None:
        cls = self.class_name(module)
        seen: Dict[str, str] = {}
        self.h.add('// The commands of schema module %s.  Implemented by the subsystem '
                   'that serves them;\n// every method runs on the thread that '
                   'dispatches the command.\n' % module.name)
        self.h.add('class %s {\n public:\n  virtual ~%s() = default;\n\n' % (cls, cls))
        for cmd in self._commands:
            method, params, ret = self._signature(cmd)
            if method in seen:
                raise QAPISemError(cmd.info, "command '%s' and '%s' both map to C++ "
                                   "method %s" % (seen[method], cmd.name, method))
            seen[method] = cmd.name
            self.h.add(doc_comment(cmd, '  '))
            self.h.add('  virtual %s %s(%s) = 0;\n' % (ret, method, params))
        self.h.add('};\n\n')
        self.h.add('// Registers every command of %s with `registry`; `impl` must outlive'
                   ' it.\n' % cls)
        self.h.add('void Register%s(CommandRegistry& registry, %s& impl);\n' % (cls,
                                                                              cls))

        self.c.add('#include <absl/status/status.h>\n#include <absl/status/statusor.h>\n\n')
        self.c.add('#include <rapidjson/document.h>\n\n')
        self.c.add('#include <utility>\n\n')
        self.c.add('#include "qapi/runtime.h"\n#include "util/status_macros.h"\n')
        visit_headers = [self.config.include(self.file_stem(module, 'visit') + '.h')]
        visit_headers += [self.config.include(self.file_stem(mod, 'visit') + '.h')
                          for mod in self.modules_used(used)]
        for inc in visit_headers:
            self.c.add('#include "%s"\n' % inc)
        self.c.add('\nnamespace migemu::qapi {\nnamespace {\n\n')
        for cmd in self._commands:
            self.c.add(self._gen_marshal(cls, cmd))
        self.c.add('}  // namespace\n\n')
        self.c.add('void Register%s(CommandRegistry& registry, %s& impl) {\n' % (cls,
                                                                               cls))
        for cmd in self._commands:
            self.c.add(self._gen_register(cmd))
        self.c.add('}\n\n}  // namespace migemu::qapi\n')

    def _gen_marshal(self, cls: str, cmd: QAPISchemaCommand) -> str:
        method, _, _ = self._signature(cmd)
        out = ('absl::StatusOr<rapidjson::Value> Marshal%s(%s& impl, '
               'const rapidjson::Value* args, %s) {\n' % (method, cls, _ALLOC))
        call_args = ''
        if cmd.arg_type is None:
            out += '  MIG_RETURN_IF_ERROR(CheckNoArguments(args));\n'
        else:
            arg_cpp = type_name(self.schema, cmd.arg_type)
            out += '  MIG_ASSIGN_OR_RETURN(%s arg, ParseArguments<%s>(args));\n' % (
                arg_cpp, arg_cpp)
            call_args = 'arg'
        if cmd.ret_type is None:
            out += '  (void)alloc;\n'
            out += '  MIG_RETURN_IF_ERROR(impl.%s(%s));\n' % (method, call_args)
            out += '  return rapidjson::Value(rapidjson::kObjectType);\n}\n\n'
        else:
            out += '  MIG_ASSIGN_OR_RETURN(%s ret, impl.%s(%s));\n' % (
                type_name(self.schema, cmd.ret_type), method, call_args)
            out += '  rapidjson::Value out;\n  ToJson(ret, &out, alloc);\n'
            out += '  return out;\n}\n\n'
        return out

    def _gen_register(self, cmd: QAPISchemaCommand) -> str:
        method, _, _ = self._signature(cmd)
        features = [f.name for f in cmd.features if self.conds.on(f.ifcond)]
        out = '  {\n    CommandEntry entry;\n'
        out += '    entry.name = %s;\n' % cpp_string(cmd.name)
        out += ('    entry.marshal = [&impl](const rapidjson::Value* args, %s) {\n'
                '      return Marshal%s(impl, args, alloc);\n    };\n' % (_ALLOC,
                                                                          method))
        out += '    entry.allow_oob = %s;\n' % _bool(cmd.allow_oob)
        out += '    entry.allow_preconfig = %s;\n' % _bool(cmd.allow_preconfig)
        out += '    entry.coroutine = %s;\n' % _bool(cmd.coroutine)
        out += '    entry.success_response = %s;\n' % _bool(cmd.success_response)
        out += '    entry.boxed = %s;\n' % _bool(cmd.boxed)
        if features:
            out += '    entry.features = {%s};\n' % ', '.join(cpp_string(f)
                                                              for f in features)
        out += '    registry.Register(std::move(entry));\n  }\n'
        return out


def _bool(value: bool) -> str:
    return 'true' if value else 'false'
