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
