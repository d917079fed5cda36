// v8_util.h: small conversions between V8 values and C++ strings.
#pragma once

#include <v8.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dispatch {

v8::Local<v8::String> v8_str(v8::Isolate *isolate, const std::string &s);
v8::Local<v8::String> v8_str(v8::Isolate *isolate, const char *s, size_t len);
std::string to_std_string(v8::Isolate *isolate, v8::Local<v8::Value> value);
// At most max_bytes of its UTF-8 ("..." marks a cut): for log lines, where a
// tenant's string may be any size.
std::string to_log_string(v8::Isolate *isolate, v8::Local<v8::Value> value,
                          size_t max_bytes = 4096);

// HTTP header values and status texts are byte strings: one character per
// byte (Latin-1) both ways, as Workers treats them.
v8::Local<v8::String> v8_byte_str(v8::Isolate *isolate, const std::string &s);
v8::Local<v8::String> v8_byte_str(v8::Isolate *isolate, std::string_view s);
// Text that is UTF-8 (invalid sequences as U+FFFD), as v8_str; one that is
// all ASCII, as most URLs are, without V8's UTF-8 decoder.
v8::Local<v8::String> v8_utf8_str(v8::Isolate *isolate, std::string_view s);
std::string to_byte_string(v8::Isolate *isolate, v8::Local<v8::Value> value);

// The bytes an ArrayBuffer or any ArrayBufferView covers; false for
// anything else.
bool buffer_source_bytes(v8::Local<v8::Value> value, const char **data, size_t *len);

// A function that calls callback, which goes into the startup snapshot's
// external references: every native the built-ins hold is made by this.
v8::Local<v8::Function> native_function(v8::Local<v8::Context> context,
                                        v8::FunctionCallback callback);

// object[name] = native_function(callback): how the natives are installed.
void set_function(v8::Local<v8::Context> context, v8::Local<v8::Object> object, const char *name,
                  v8::FunctionCallback callback);

// A frozen array of items with no prototype: resolving a promise with it
// looks up no `then` a tenant could have put on Object.prototype, and no
// one can change it on the way.
v8::Local<v8::Array> frozen_list(v8::Local<v8::Context> context, v8::Local<v8::Value> *items,
                                 size_t n);

// HTTP headers as a frozen, prototype-less [name, value, ...] of byte
// strings (what the built-ins' headersFromClient takes).
v8::Local<v8::Array> frozen_header_list(
    v8::Local<v8::Context> context,
    const std::vector<std::pair<std::string, std::string>> &headers);

// What the error log says about a thrown value: the stack of an Error, or
// "file:line: message" for a compile error, or the value as a string.
std::string describe_exception(v8::Isolate *isolate, v8::Local<v8::Value> exception,
                               v8::Local<v8::Message> message);

}  // namespace dispatch
