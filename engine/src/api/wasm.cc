#include "api/wasm.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <string>

#include "engine.h"
#include "memory_budget.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

// Set only around the engine's own v8::WasmModuleObject::Compile: the
// worker runs one isolate at a time on one thread, and no JavaScript runs
// while V8 compiles.
bool g_engine_compiles = false;

// What V8 10.2 takes for each entry of a table as it instantiates it
// (measured: 4M-entry tables, three instances): a funcref table's entries
// and its indirect-call arrays, 28 bytes; an externref table's entries, 8.
constexpr uint64_t kTableBytesPerFuncref = 32;
constexpr uint64_t kTableBytesPerEntry = 8;

// A forward-only reader of the binary format (LEB128 integers, names).
struct Reader {
  const uint8_t *p;
  const uint8_t *end;

  bool byte(uint8_t *b) {
    if (p >= end) return false;
    *b = *p++;
    return true;
  }
  bool uleb(uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      uint8_t b;
      if (!byte(&b)) return false;
      r |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  bool u32(uint32_t *v) {
    uint64_t r;
    if (!uleb(&r) || r > UINT32_MAX) return false;
    *v = uint32_t(r);
    return true;
  }
  bool skip(uint64_t n) {
    if (uint64_t(end - p) < n) return false;
    p += n;
    return true;
  }
  bool name(std::string *out) {
    uint32_t n;
    if (!u32(&n) || uint64_t(end - p) < n) return false;
    if (out) out->assign(reinterpret_cast<const char *>(p), n);
    p += n;
    return true;
  }
  // limits: flags (1: a maximum follows, 4: 64-bit), initial[, maximum]
  bool limits(WasmMemoryDecl *d) {
    uint32_t flags;
    uint64_t initial, maximum = 0;
    if (!u32(&flags) || !uleb(&initial) || ((flags & 1) && !uleb(&maximum))) return false;
    if (d) {
      d->initial = uint32_t(std::min<uint64_t>(initial, UINT32_MAX));
      d->has_maximum = flags & 1;
      d->maximum = uint32_t(std::min<uint64_t>(maximum, UINT32_MAX));
    }
    return true;
  }
};

void is_wasm_module(const v8::FunctionCallbackInfo<v8::Value> &info) {
  info.GetReturnValue().Set(info.Length() > 0 && info[0]->IsWasmModuleObject());
}

void own_memory(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *tenant = TenantIsolate::from(isolate);
  size_t limit = tenant->engine().limits().memory_limit;
  const WasmMemoryDecl *decl = info.Length() > 0 ? tenant->wasm_decl(info[0]) : nullptr;
  if (decl != nullptr && !decl->own) return;  // undefined: nothing of its own
  size_t bytes = limit;  // a module the engine did not compile: the worst
  v8::Local<v8::Value> name = v8::Undefined(isolate);
  if (decl != nullptr && decl->exported) {
    bytes = size_t(decl->initial) << 16;
    name = v8_str(isolate, decl->export_name);
  } else if (decl != nullptr && decl->has_maximum) {
    bytes = std::min(size_t(decl->maximum) << 16, limit);
  }
  v8::Local<v8::Value> items[] = {v8::Number::New(isolate, double(bytes)), name};
  info.GetReturnValue().Set(frozen_list(isolate->GetCurrentContext(), items, 2));
}

// wasmCustomSections(module): how many custom sections the module has (0
// for anything else), for the guard of WebAssembly.Module.customSections.
void custom_sections(const v8::FunctionCallbackInfo<v8::Value> &info) {
  const WasmMemoryDecl *decl =
      info.Length() > 0 ? TenantIsolate::from(info.GetIsolate())->wasm_decl(info[0]) : nullptr;
  info.GetReturnValue().Set(double(decl != nullptr ? decl->custom_sections : 0));
}

// wasmTableRoom(module): a RangeError when the tables the module defines
// (V8 makes them whole as it instantiates, in one call no stop request
// reaches), or the funcref tables it imports at their largest (see
// kWasmImportedTableBytesPerEntry), do not fit what is left of the
// script's memory, or the latter kWasmMaxImportedTableEntries with those
// of the live instances.
void table_room(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *tenant = TenantIsolate::from(isolate);
  const WasmMemoryDecl *decl = info.Length() > 0 ? tenant->wasm_decl(info[0]) : nullptr;
  if (decl == nullptr) return;
  if (decl->imported_table_entries != 0 && !tenant->imported_tables_fit(decl->imported_table_entries)) {
    return;
  }
  uint64_t imported = decl->imported_table_entries * kWasmImportedTableBytesPerEntry;
  uint64_t bytes = decl->table_bytes + imported;
  if (bytes == 0) return;
  if (bytes > SIZE_MAX || !tenant->budget().make_room(size_t(bytes))) {
    std::string what = decl->table_bytes == 0 ? "the tables it imports, at their declared maximum"
                       : imported == 0        ? "the module's tables"
                                              : "the module's tables and those it imports, at their "
                                                "declared maximum";
    isolate->ThrowException(v8::Exception::RangeError(
        v8_str(isolate, "WebAssembly.Instance: " + what + " (" + std::to_string(bytes) +
                            " bytes) do not fit what is left of the script's memory limit")));
  }
}

// wasmImportsMade(instance, module): the instance is charged for the
// funcref tables its module imports, at their largest, as long as it lives.
void imports_made(const v8::FunctionCallbackInfo<v8::Value> &info) {
  TenantIsolate *tenant = TenantIsolate::from(info.GetIsolate());
  const WasmMemoryDecl *decl = info.Length() > 1 ? tenant->wasm_decl(info[1]) : nullptr;
  if (decl == nullptr || decl->imported_table_entries == 0 || !info[0]->IsObject()) return;
  tenant->charge_wasm_imports(info[0].As<v8::Object>(), decl->imported_table_entries,
                              size_t(decl->imported_table_entries * kWasmImportedTableBytesPerEntry));
}

void track_memory(const v8::FunctionCallbackInfo<v8::Value> &info) {
  if (info.Length() < 2 || !info[0]->IsWasmMemoryObject() || !info[1]->IsNumber()) return;
  double extra = info[1].As<v8::Number>()->Value();
  if (!(extra >= 0)) extra = 0;
  TenantIsolate::from(info.GetIsolate())
      ->track_wasm_memory(info[0].As<v8::WasmMemoryObject>(),
                          extra > 1e15 ? size_t(1e15) : size_t(extra));
}

}  // namespace

bool wasm_memory_decl(std::string_view bytes, WasmMemoryDecl *out) {
  *out = WasmMemoryDecl();
  Reader r{reinterpret_cast<const uint8_t *>(bytes.data()),
           reinterpret_cast<const uint8_t *>(bytes.data()) + bytes.size()};
  if (!r.skip(8)) return false;  // magic and version
  uint32_t imported_memories = 0;
  while (r.p < r.end) {
    uint8_t id;
    uint32_t size;
    if (!r.byte(&id) || !r.u32(&size) || uint64_t(r.end - r.p) < size) return false;
    Reader s{r.p, r.p + size};
    r.p += size;
    uint32_t count;
    if (id == 0) {  // custom (WebAssembly.Module.customSections reads them all)
      out->custom_sections++;
    } else if (id == 2) {  // imports: count the memories, which come first in the index space
      if (!s.u32(&count)) return false;
      for (uint32_t i = 0; i < count; i++) {
        uint8_t kind, b = 0;
        uint32_t index;
        WasmMemoryDecl table;
        if (!s.name(nullptr) || !s.name(nullptr) || !s.byte(&kind)) return false;
        bool ok = kind == 0   ? s.u32(&index)                     // function: type
                  : kind == 1 ? s.byte(&b) && s.limits(&table)    // table
                  : kind == 2 ? s.limits(nullptr)                 // memory
                  : kind == 3 ? s.byte(&b) && s.byte(&b)          // global
                  : kind == 4 ? s.byte(&b) && s.u32(&index)       // tag
                              : false;
        if (!ok) return false;
        if (kind == 0) out->functions++;
        if (kind == 2) imported_memories++;
        // A table of anything but externref: what V8 10.2 keeps an
        // indirect-call array of in each instance that has it.
        if (kind == 1 && b != 0x6f) {
          out->imported_table_entries +=
              table.has_maximum ? std::min<uint64_t>(table.maximum, kWasmMaxTableEntries)
                                : kWasmMaxTableEntries;
        }
      }
    } else if (id == 4) {  // tables of its own: V8 makes each whole at instantiation
      if (!s.u32(&count)) return false;
      for (uint32_t i = 0; i < count; i++) {
        uint8_t type;
        WasmMemoryDecl limits;
        if (!s.byte(&type) || !s.limits(&limits)) return false;
        out->table_bytes += uint64_t(limits.initial) *
                            (type == 0x70 ? kTableBytesPerFuncref : kTableBytesPerEntry);
      }
    } else if (id == 3) {  // functions of its own
      if (!s.u32(&count)) return false;
      out->functions += count;
    } else if (id == 5) {  // memories of its own
      if (!s.u32(&count)) return false;
      if (count > 0) {
        if (!s.limits(out)) return false;
        out->own = true;
      }
    } else if (id == 7) {  // exports
      if (!s.u32(&count)) return false;
      for (uint32_t i = 0; i < count; i++) {
        std::string name;
        uint8_t kind;
        uint32_t index;
        if (!s.name(&name) || !s.byte(&kind) || !s.u32(&index)) return false;
        if (kind == 2 && index == imported_memories && !out->exported) {
          out->exported = true;
          out->export_name = std::move(name);
        }
      }
    }
  }
  // An export of the memory index space's first entry is the module's own
  // memory only when it imports none.
  if (!out->own) {
    out->exported = false;
    out->export_name.clear();
  }
  return true;
}

bool wasm_codegen_allowed(v8::Local<v8::Context>, v8::Local<v8::String>) {
  return g_engine_compiles;
}

namespace {

// The worker's resident memory, in bytes (/proc/self/statm); 0 when it
// cannot be read.
size_t resident_bytes() {
  FILE *f = fopen("/proc/self/statm", "re");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  int read = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  return read == 2 ? size_t(resident) * size_t(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace

v8::MaybeLocal<v8::WasmModuleObject> wasm_compile(v8::Isolate *isolate, std::string_view bytes,
                                                  size_t *resident_growth) {
  size_t before = resident_growth != nullptr ? resident_bytes() : 0;
  g_engine_compiles = true;
  v8::MaybeLocal<v8::WasmModuleObject> module = v8::WasmModuleObject::Compile(
      isolate, v8::MemorySpan<const uint8_t>(reinterpret_cast<const uint8_t *>(bytes.data()),
                                             bytes.size()));
  g_engine_compiles = false;
  if (resident_growth != nullptr) {
    size_t after = before != 0 ? resident_bytes() : 0;
    *resident_growth = after > before ? after - before : 0;
  }
  return module;
}

void install_wasm_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  set_function(context, native, "isWasmModule", is_wasm_module);
  set_function(context, native, "wasmOwnMemory", own_memory);
  set_function(context, native, "trackWasmMemory", track_memory);
  set_function(context, native, "wasmCustomSections", custom_sections);
  set_function(context, native, "wasmTableRoom", table_room);
  set_function(context, native, "wasmImportsMade", imports_made);
}

}  // namespace dispatch
