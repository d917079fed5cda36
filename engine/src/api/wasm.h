// wasm.h: WebAssembly modules a script imports (`import mod from
// "./add.wasm"`), as on Workers: compiled by the engine from the bytes that
// were uploaded (SPEC 3's wasm:PATH fields), never by the script, whose
// WebAssembly.compile(bytes) and new WebAssembly.Module(bytes) stay refused.
// Their code and their instances' memories count against
// dispatch_memory_limit (engine/js/memory_guards.js, TenantIsolate).
#pragma once

#include <v8.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace dispatch {

// The engine charges a compiled module this many times its wire size: the
// bytes V8 keeps, and the machine code Liftoff makes of them (about twice
// the wire size on x64; TurboFan, which made as much again, is off:
// platform.cc). Some instructions make far more (`i32.const 0;
// call_indirect`, 5 bytes, about 100 bytes of code: a 9.5 MB module took
// 186 MB, charged 48 MB): what the worker's resident memory grew by as the
// module compiled is charged when it is more (compile_wasm_module).
constexpr size_t kWasmCodeBytesPerWireByte = 5;
// And this much more per function it defines or imports: V8 keeps a code
// object, a jump-table slot and metadata for each, whatever its size (1 MB
// of 250,000 empty functions took 85 MB of the worker's memory, about 340
// bytes a function, where its wire size was charged 5 MB).
constexpr size_t kWasmCodeBytesPerFunction = 512;

// What a module declares of a memory of its own (not imported), and how
// many functions it has.
struct WasmMemoryDecl {
  bool own = false;           // it defines a memory
  uint32_t initial = 0;       // pages of 64 KiB
  bool has_maximum = false;
  uint32_t maximum = 0;
  bool exported = false;      // under export_name
  std::string export_name;
  uint64_t functions = 0;     // defined and imported
  uint64_t custom_sections = 0;
  uint64_t table_bytes = 0;   // what its own tables take when instantiated
  // The most entries the funcref tables it imports can ever reach, summed:
  // each one's declared maximum, or V8's largest table when it declares
  // none (see kWasmImportedTableBytesPerEntry).
  uint64_t imported_table_entries = 0;
};

// The largest table, in entries: V8's --wasm-max-table-size as the engine
// sets it (platform.cc; V8's own is 10M). A funcref table is grown, filled
// or made in one call no stop request reaches, each entry with its
// instance's indirect-call array: grown by 10M entries with a function as
// the value it took 0.8 to 1 s, near dispatch_hang_timeout's default and
// past a shorter one; 1M, about 0.1 s.
constexpr uint64_t kWasmMaxTableEntries = 1000000;
// What an instance holds for each entry of a funcref table it imports: V8
// keeps an indirect-call array per instance and table (a signature id, a
// call target and a reference), grown with the table by Table.grow() or
// Wasm's table.grow, in the one call that grows it: 100 instances
// importing one table, grown by 10M entries, ran past
// dispatch_hang_timeout (20 GB at ~20 bytes an entry).
constexpr uint64_t kWasmImportedTableBytesPerEntry = 24;
// And the time that call takes: ~80 ns an entry of each importer (44
// instances importing one table, grown by 1M entries with a function as
// the value, took 3.7 s under a 1g limit). The funcref tables the live
// instances of one isolate import, at their largest, add up to at most
// this many entries: a grow of them all ~0.2 s.
constexpr uint64_t kWasmMaxImportedTableEntries = 2000000;

// Reads the import, function, table, memory and export sections of a
// module, and counts its custom sections (bounds-checked: any bytes). False
// when they cannot be read (the caller assumes the worst).
bool wasm_memory_decl(std::string_view bytes, WasmMemoryDecl *out);

// The isolate's AllowWasmCodeGenerationCallback: true only while the
// engine itself compiles (wasm_compile), so a script never compiles bytes.
bool wasm_codegen_allowed(v8::Local<v8::Context> context, v8::Local<v8::String> source);

// The module compiled from bytes, in the isolate's current context; empty
// with an exception pending when V8 refuses them. *resident_growth: how
// much the worker's resident memory grew meanwhile (the machine code
// Liftoff wrote, on the isolate's thread: platform.cc).
v8::MaybeLocal<v8::WasmModuleObject> wasm_compile(v8::Isolate *isolate, std::string_view bytes,
                                                  size_t *resident_growth = nullptr);

// Adds to the built-ins' `native`:
// - wasmOwnMemory(module) -> undefined when the module has no memory of
//   its own, else [pages to charge now, exported name or undefined]: the
//   initial pages of an exported memory (its growth is followed after every
//   run), the maximum (the whole limit when it declares none) of one the
//   engine cannot see;
// - trackWasmMemory(memory, extraBytes): charges a WebAssembly.Memory's
//   size plus extraBytes (a grow() about to happen) and follows it from
//   then on; a RangeError when that does not fit;
// - wasmTableRoom(module) -> a RangeError when the tables the module
//   defines, or those it imports at their largest, do not fit (memory,
//   kWasmMaxImportedTableEntries);
// - wasmImportsMade(instance, module): charges the instance for the tables
//   it imports, as long as it lives;
// - isWasmModule(value).
void install_wasm_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);

}  // namespace dispatch
