// dynamic_import.h: import(specifier) in a tenant's code, for the script's
// own modules only (as Workers allows): resolved by the same function as
// its static imports (TenantIsolate::load_module), then linked and
// evaluated. The promise rejects with a TypeError for anything else (URLs,
// names that are none of its modules), and with the error of a module that
// fails to compile, link or evaluate.
#pragma once

#include <v8.h>

namespace dispatch {

// The isolate's HostImportModuleDynamicallyCallback. The work runs as a
// microtask of the turn that called import(), never inside the call: a
// module may import itself while it is being evaluated.
v8::MaybeLocal<v8::Promise> import_dynamically(v8::Local<v8::Context> context,
                                               v8::Local<v8::Data> host_defined_options,
                                               v8::Local<v8::Value> resource_name,
                                               v8::Local<v8::String> specifier,
                                               v8::Local<v8::FixedArray> import_assertions);

}  // namespace dispatch
