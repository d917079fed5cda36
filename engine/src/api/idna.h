// idna.h: UTS #46 "domain to ASCII" for the URL parser, through the ICU that
// V8 itself links.
#pragma once

#include <v8.h>

namespace dispatch {
// Adds native.domainToASCII(domain, beStrict) -> string, or null on failure.
void install_idna_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);
}  // namespace dispatch
