// asset_server.h: requests answered from a script's static assets (README
// "Static assets"), in C++, with no isolate: the router's choice between
// assets and worker, and the asset server's answer (200 with ETag and
// Content-Type, 304 for a matching If-None-Match, 307 to a canonical path,
// 404, 405), as Cloudflare's asset router and server give them.
#pragma once

#include <memory>

namespace dispatch {

class Engine;
class RequestScope;
struct ScriptSource;

// Answers the request from the script's assets when they are where it goes
// (always for a script with no worker and for env.ASSETS; otherwise by
// run_worker_first and whether an asset answers the path): responds now,
// or once the asset's content is read from Redis, and returns true. False:
// the worker answers it.
bool serve_assets(Engine &engine, RequestScope &scope, const std::shared_ptr<const ScriptSource> &script);

}  // namespace dispatch
