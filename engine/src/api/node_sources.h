// node_sources.h: the embedded sources of the nodejs_compat modules
// (engine/js/node/*.js and the Debian packages they stand on), each a
// CommonJS module body, by id ("node/buffer.js", "buffer/index.js").
#pragma once

#include <cstddef>

namespace dispatch {

struct NodeSource {
  const char *id;
  const char *source;
};

extern const NodeSource kNodeSources[];
extern const size_t kNodeSourceCount;

}  // namespace dispatch
