# Wraps the built-ins into one function expression and embeds it as a C++
# string: (function (native) { 'use strict'; <files> })
# Usage: cmake -DOUTPUT=file.cc -DINPUTS=a.js;b.js -P embed_js.cmake
set(body "(function (native) {\n'use strict';\n")
foreach(f ${INPUTS})
  file(READ ${f} js)
  get_filename_component(name ${f} NAME)
  string(APPEND body "// ---- ${name}\n${js}\n")
endforeach()
string(APPEND body "})\n")
# ASCII only: the engine hands the source to V8 as an external one-byte
# string shared by every isolate (tenant_isolate.cc, builtins_source); write
# other characters as \u escapes.
string(REGEX MATCH "[^\t\n\r -~]" non_ascii "${body}")
if(non_ascii)
  message(FATAL_ERROR "a built-in contains a character outside ASCII: write it as a \\u escape")
endif()
string(FIND "${body}" ")js_builtins\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "a built-in contains the raw-string delimiter")
endif()
file(WRITE ${OUTPUT}.tmp
  "// Generated from engine/js/*.js by embed_js.cmake; do not edit.\n"
  "#include <cstddef>\n"
  "namespace dispatch {\n"
  "extern const char kBuiltinsSource[] = R\"js_builtins(${body})js_builtins\";\n"
  "extern const size_t kBuiltinsSourceLength = sizeof(kBuiltinsSource) - 1;\n"
  "}  // namespace dispatch\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
