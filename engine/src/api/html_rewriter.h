// html_rewriter.h: the native half of HTMLRewriter (engine/js/html_rewriter.js):
// a streaming HTML tokenizer (the HTML Standard's tokenization states that
// decide where tokens start and end), an open-element stack and a CSS
// selector matcher, and the rewriting state that turns handlers' edits into
// output bytes. Every byte no handler changed is passed through as it came.
//
//   native.htmlCheckSelector(selector)      TypeError when the selector is
//                                           invalid or not supported
//   native.htmlCreate(selectors, flags)     -> handle; selectors: [selector,
//                                           element?, text?, comments?]...;
//                                           flags: doctype|comments|text|end
//                                           handlers of onDocument (bits 1..8),
//                                           16: the document is windows-1252
//                                           (else UTF-8)
//   native.htmlWrite(handle, bytes)         the next input (all earlier input
//                                           must have been consumed)
//   native.htmlEnd(handle)                  no more input comes
//   native.htmlNext(handle) -> event | 0 | null
//                                           the next event a handler must see
//                                           (a frozen list, see the .cc), 0
//                                           when the call did its share of
//                                           work and wants to be called again,
//                                           null when the input is consumed
//   native.htmlResolve(handle, edits)       what the handlers did to the
//                                           event's token (a list, see .cc)
//   native.htmlTake(handle, min) -> Uint8Array | null
//                                           the output made so far, when it
//                                           is at least min bytes
//   native.htmlFinished(handle) -> bool     the whole document went out
//
// Buffers (the unfinished token, output not taken yet, the element stack
// and the names its elements hold)
// are charged to the isolate's budget; an unfinished token is capped at
// kHtmlMaxToken bytes, the stack at kHtmlMaxDepth elements and selectors at
// kHtmlMaxSelectors / kHtmlMaxCompounds, and matching one element at
// kHtmlMaxMatchWork, each with a clear error.
#pragma once

#include <v8.h>

#include <cstddef>

namespace dispatch {
constexpr size_t kHtmlMaxToken = 1 << 20;
constexpr size_t kHtmlMaxDepth = 1024;
constexpr size_t kHtmlMaxSelectors = 1024;
constexpr size_t kHtmlMaxCompounds = 4096;
constexpr size_t kHtmlMaxSelectorLength = 16 * 1024;
// Attributes looked up and bytes compared to match one element.
constexpr size_t kHtmlMaxMatchWork = 16u << 20;
void install_html_rewriter_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);
}  // namespace dispatch
