// request.h: the engine's record of one HTTP request, from start to release.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dispatch_engine.h"
#include "host.h"

namespace dispatch {

class TenantIsolate;

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  uint64_t id = 0;
  void *host_ctx = nullptr;

  std::string ns;
  std::string script;
  std::string method;
  std::string url;
  HeaderList headers;
  std::string body;

  uint64_t cpu_limit_ms = 50;
  uint64_t wall_limit_ms = 30000;
  uint32_t script_concurrency = 64;

  // Keeps the isolate alive while the request runs on it, even when a newer
  // version of the script replaced it in the pool.
  std::shared_ptr<TenantIsolate> isolate;
  // dispatch_wall_limit; a request in flight keeps a shutting-down worker
  // alive, so it is not cancelable.
  std::unique_ptr<Timer> wall_timer;

  uint32_t kv_ops = 0;
  uint32_t log_lines = 0;       // console lines, written or not
  uint32_t log_suppressed = 0;  // past dispatch_log_limit

  // ctx.waitUntil: promises still running. A request the host released
  // while some run lingers on the engine's side (30 s at most).
  uint32_t waits = 0;
  bool released = false;
  std::unique_ptr<Timer> linger_timer;

  bool done = false;
  dispatch_outcome_e outcome = DISPATCH_OUTCOME_OK;
  int status = 0;
  std::string status_text;
  HeaderList response_headers;
  std::string response_body;
  double cpu_ms = 0;

  // Views into the response for the C header, built once when done.
  std::vector<dispatch_header_t> header_views;
};

}  // namespace dispatch
