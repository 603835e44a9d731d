"""Backend: event emitters (qapi-events-<module>.h) and the QapiEvent enum.

``EmitMigration(EventSink& sink, MigrationStatus status)`` builds the event's ``data``
object (null for an event without members) and hands it to the sink; required members
are passed by value (scalars) or const reference, optional ones as ``std::optional``,
a boxed event takes its type.  ``qapi-emit-events.h`` holds ``enum class QapiEvent``
with every event's wire name.
"""

from typing import List, Tuple

from .common import c_name, cpp_string, enum_const, pascal_name
from .gen import (
    ModularVisitor,
    OutputFile,
    banner,
    doc_comment,
    include_guard,
    is_scalar,
    param_type,
    type_name,
)
from .schema import QAPISchemaEvent, QAPISchemaModule, QAPISchemaType


class EventsVisitor(ModularVisitor):
    what = 'events'
    builtin_files = False

    def visit_begin(self, schema: object) -> None:
        self.all_events: List[QAPISchemaEvent] = []

    def begin_module(self, module: QAPISchemaModule) -> None:
        self._events: List[QAPISchemaEvent] = []

    def visit_event(self, event: QAPISchemaEvent) -> None:
        if self.conds.on(event.ifcond):
            self._events.append(event)
            self.all_events.append(event)

    def _params(self, event: QAPISchemaEvent) -> List[Tuple[str, str, bool]]:
        """(C++ parameter declaration, wire name, optional) per parameter."""
        if event.arg_type is None:
            return []
        if event.boxed:
            return [('const %s& arg' % type_name(self.schema, event.arg_type), '',
                     False)]
        params = []
        for member in self.conds.members(event.arg_type):
            name = c_name(member.name)
            if name == 'sink':
                name = 'sink_'
            if member.optional:
                cpp = 'std::optional<%s>' % type_name(self.schema, member.type)
                decl = ('%s %s' % (cpp, name) if is_scalar(member.type)
                        else 'const %s& %s' % (cpp, name))
            else:
                decl = '%s %s' % (param_type(self.schema, member.type), name)
            params.append((decl, member.name, member.optional))
        return params

    def end_module(self, module: QAPISchemaModule) -> None:
        used: List[QAPISchemaType] = []
        for event in self._events:
            if event.arg_type is not None:
                if event.boxed:
                    used.append(event.arg_type)
                else:
                    used += [m.type for m in self.conds.members(event.arg_type)]
        project = ['qapi/event_sink.h',
                   self.config.include(self.file_stem(module, 'types') + '.h')]
        project += [self.config.include(self.file_stem(mod, 'types') + '.h')
                    for mod in self.modules_used(used)]
        if module is self.schema.main_module:
            project.append(self.config.include('qapi-emit-events.h'))
            project += [self.config.include(self.file_stem(mod) + '.h')
                        for mod in self.schema.user_modules() if mod is not module]
        system = ['cstdint', 'optional', 'string', 'vector'] if self._events else []
        self.h.add(self.header_open(system, [], project))
        self.c.add('#include "%s"\n\n' % self.config.include(self.h.fname))
        if self._events:
            self.c.add('#include <rapidjson/document.h>\n\n#include <memory>\n'
                       '#include <utility>\n\n#include "qapi/runtime.h"\n')
            visit = [self.config.include(self.file_stem(module, 'visit') + '.h')]
            visit += [self.config.include(self.file_stem(mod, 'visit') + '.h')
                      for mod in self.modules_used(used)]
            for inc in visit:
                self.c.add('#include "%s"\n' % inc)
            self.c.add('\nnamespace migemu::qapi {\n\n')
            for event in self._events:
                self._gen_event(event)
            self.c.add('}  // namespace migemu::qapi\n')
        self.h.add(self.header_close())

    def _gen_event(self, event: QAPISchemaEvent) -> None:
        params = self._params(event)
        sink = 'sink'
        decl = 'void Emit%s(EventSink& %s%s)' % (
            pascal_name(event.name), sink,
            ''.join(', ' + p[0] for p in params))
        self.h.add(doc_comment(event))
        self.h.add(decl + ';\n\n')
        out = decl + ' {\n'
        has_data = event.arg_type is not None and (
            event.boxed or bool(self.conds.members(event.arg_type)))
        if not has_data:
            out += '  %s.EmitEvent(%s, nullptr);\n}\n\n' % (sink,
                                                            cpp_string(event.name))
            self.c.add(out)
            return
        out += '  auto data = std::make_unique<rapidjson::Document>();\n'
        out += '  data->SetObject();\n'
        out += '  rapidjson::Document::AllocatorType& alloc = data->GetAllocator();\n'
        if event.boxed:
            out += '  ToJson(arg, data.get(), alloc);\n'
        else:
            for decl_text, wire, optional in params:
                name = decl_text.rsplit(' ', 1)[1]
                func = 'AddOptionalMember' if optional else 'AddMember'
                out += '  %s(data.get(), %s, %s, alloc);\n' % (func, cpp_string(wire),
                                                                name)
        out += '  %s.EmitEvent(%s, std::move(data));\n}\n\n' % (sink,
                                                                cpp_string(event.name))
        self.c.add(out)

    def emit_events_files(self) -> List[OutputFile]:
        """qapi-emit-events.h/.cc: the QapiEvent enum of every enabled event."""
        h = OutputFile('qapi-emit-events.h', banner(self.config, 'events'))
        c = OutputFile('qapi-emit-events.cc', banner(self.config, 'events'))
        guard = include_guard(self.config, h.fname)
        h.add('#ifndef %s\n#define %s\n\n#include <array>\n#include <cstddef>\n\n'
              '#include "qapi/runtime.h"\n\nnamespace migemu::qapi {\n\n'
              % (guard, guard))
        h.add('// Every event of the schema, by its wire name.\n')
        h.add('enum class QapiEvent {\n')
        for event in self.all_events:
            h.add('  %s,\n' % enum_const(event.name))
        h.add('};\n\ntemplate <>\nstruct EnumTraits<QapiEvent> {\n')
        h.add('  static constexpr size_t kCount = %d;\n' % len(self.all_events))
        if self.all_events:
            h.add('  static constexpr const char* kNames[kCount] = {%s};\n'
                  % ', '.join(cpp_string(e.name) for e in self.all_events))
        else:
            h.add('  static constexpr std::array<const char*, 0> kNames{};\n')
        h.add('  static constexpr const char* kTypeName = "QapiEvent";\n};\n\n')
        h.add('}  // namespace migemu::qapi\n\n#endif  // %s\n' % guard)
        c.add('#include "%s"\n' % self.config.include(h.fname))
        return [h, c]
