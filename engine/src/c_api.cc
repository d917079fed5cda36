// c_api.cc: the C header's entry points. No exception crosses into C: each
// entry point catches and reports through the host's log.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

#include "dispatch_engine.h"
#include "admin_api.h"
#include "body_streams.h"
#include "egress_policy.h"
#include "engine.h"
#include "api/websocket.h"

struct dispatch_engine_s {
  std::unique_ptr<dispatch::Engine> engine;
};

// The host's handle on one management API call; the call itself lives on
// while a Redis reply it waits for may still come.
struct dispatch_admin_s {
  std::shared_ptr<dispatch::AdminCall> call;
};

namespace {

void report(const dispatch_host_t *host, const char *where, const char *what) {
  if (host == nullptr || host->log == nullptr) return;
  char buf[512];
  int n = snprintf(buf, sizeof(buf), "dispatch: %s failed: %s", where, what);
  host->log(host->data, nullptr, DISPATCH_LOG_ERR, buf, n > 0 ? size_t(std::min(n, int(sizeof(buf) - 1))) : 0);
}

dispatch::RequestScope *to_request(dispatch_request_t *r) {
  return reinterpret_cast<dispatch::RequestScope *>(r);
}

// The engine each request belongs to; one per process.
dispatch::Engine *g_engine = nullptr;

}  // namespace

extern "C" {

dispatch_engine_t *dispatch_engine_create(const dispatch_engine_conf_t *conf,
                                          const dispatch_host_t *host, char *err,
                                          size_t err_len) {
  auto fail = [&](const std::string &msg) -> dispatch_engine_t * {
    if (err && err_len) snprintf(err, err_len, "%s", msg.c_str());
    return nullptr;
  };
  if (g_engine) return fail("an engine already runs in this process");
  try {
    auto e = std::make_unique<dispatch_engine_s>();
    e->engine = std::make_unique<dispatch::Engine>(*conf, *host);
    std::string why;
    if (!e->engine->init(&why)) return fail(why);
    g_engine = e->engine.get();
    return e.release();
  } catch (const std::exception &ex) {
    return fail(ex.what());
  } catch (...) {
    return fail("unknown error");
  }
}

void dispatch_engine_destroy(dispatch_engine_t *engine) {
  if (engine == nullptr) return;
  try {
    g_engine = nullptr;
    delete engine;
  } catch (...) {
    // nothing sane is left to do in a process that is exiting
  }
}

dispatch_request_t *dispatch_request_start(dispatch_engine_t *engine,
                                           const dispatch_request_view_t *view) {
  try {
    return reinterpret_cast<dispatch_request_t *>(engine->engine->start(*view));
  } catch (const std::exception &ex) {
    report(&engine->engine->host().raw(), "dispatch_request_start", ex.what());
  } catch (...) {
    report(&engine->engine->host().raw(), "dispatch_request_start", "unknown error");
  }
  return nullptr;
}

int dispatch_request_response(dispatch_request_t *r, dispatch_response_t *out) {
  dispatch::RequestScope *req = to_request(r);
  if (!req->responded()) return 0;
  out->outcome = req->outcome;
  out->status = req->status;
  out->status_text = {req->status_text.data(), req->status_text.size()};
  out->headers = req->header_views.data();
  out->nheaders = req->header_views.size();
  std::string_view body = req->response_view();
  out->body = {body.data(), body.size()};
  // A WebSocket's bytes come as a body of no length (api/websocket.h).
  bool ws = dispatch::websocket_answer(*req) && req->status == 101 &&
            req->outcome == DISPATCH_OUTCOME_OK;
  out->body_streamed = req->response_stream.on || ws ? 1 : 0;
  out->body_length = req->response_stream.on ? req->response_stream.length
                     : ws                    ? -1
                                             : int64_t(body.size());
  out->cpu_ms = req->cpu_ms;
  out->subrequests = req->subrequests;
  out->chain_failure = {req->chain_failure.data(), req->chain_failure.size()};
  return 1;
}

void dispatch_request_release(dispatch_request_t *r) {
  if (r == nullptr || g_engine == nullptr) return;
  try {
    g_engine->release(to_request(r));
  } catch (const std::exception &ex) {
    report(&g_engine->host().raw(), "dispatch_request_release", ex.what());
  } catch (...) {
    report(&g_engine->host().raw(), "dispatch_request_release", "unknown error");
  }
}

int dispatch_request_body_write(dispatch_request_t *r, const char *data, size_t len,
                                int last) {
  if (r == nullptr || g_engine == nullptr) return 0;
  try {
    return dispatch::request_body_write(*g_engine, *to_request(r), data, len, last != 0);
  } catch (const std::exception &ex) {
    report(&g_engine->host().raw(), "dispatch_request_body_write", ex.what());
  } catch (...) {
    report(&g_engine->host().raw(), "dispatch_request_body_write", "unknown error");
  }
  return 0;
}

void dispatch_request_body_fail(dispatch_request_t *r, int status) {
  if (r == nullptr || g_engine == nullptr) return;
  try {
    dispatch::request_body_fail(*g_engine, *to_request(r), status);
  } catch (const std::exception &ex) {
    report(&g_engine->host().raw(), "dispatch_request_body_fail", ex.what());
  } catch (...) {
    report(&g_engine->host().raw(), "dispatch_request_body_fail", "unknown error");
  }
}

int dispatch_request_body_wanted(dispatch_request_t *r) {
  return r != nullptr && dispatch::request_body_wanted(*to_request(r)) ? 1 : 0;
}

long dispatch_response_read(dispatch_request_t *r, char *buf, size_t size) {
  if (r == nullptr || g_engine == nullptr) return DISPATCH_BODY_ERROR;
  try {
    dispatch::RequestScope *req = to_request(r);
    long n = dispatch::websocket_answer(*req) && req->status == 101
                 ? dispatch::websocket_read(*g_engine, *req, buf, size)
                 : dispatch::response_body_read(*g_engine, *req, buf, size);
    if (n > 0) to_request(r)->response_bytes += uint64_t(n);
    return n;
  } catch (const std::exception &ex) {
    report(&g_engine->host().raw(), "dispatch_response_read", ex.what());
  } catch (...) {
    report(&g_engine->host().raw(), "dispatch_response_read", "unknown error");
  }
  return DISPATCH_BODY_ERROR;
}

int dispatch_websocket_input(dispatch_request_t *r, const char *data, size_t len, int eof) {
  if (r == nullptr || g_engine == nullptr) return 0;
  try {
    return dispatch::websocket_input(*g_engine, *to_request(r), data, len, eof != 0);
  } catch (const std::exception &ex) {
    report(&g_engine->host().raw(), "dispatch_websocket_input", ex.what());
  } catch (...) {
    report(&g_engine->host().raw(), "dispatch_websocket_input", "unknown error");
  }
  return 0;
}

int dispatch_websocket_wanted(dispatch_request_t *r) {
  return r != nullptr && g_engine != nullptr &&
         dispatch::websocket_wanted(*g_engine, *to_request(r)) ? 1 : 0;
}

dispatch_admin_t *dispatch_admin_start(dispatch_engine_t *engine,
                                       const dispatch_admin_view_t *view) {
  try {
    auto handle = std::make_unique<dispatch_admin_s>();
    handle->call = engine->engine->admin_start(*view);
    return handle.release();
  } catch (const std::exception &ex) {
    report(&engine->engine->host().raw(), "dispatch_admin_start", ex.what());
  } catch (...) {
    report(&engine->engine->host().raw(), "dispatch_admin_start", "unknown error");
  }
  return nullptr;
}

int dispatch_admin_response(dispatch_admin_t *call, dispatch_admin_response_t *out) {
  if (call == nullptr || !call->call->done()) return 0;
  const dispatch::AdminCall &c = *call->call;
  out->status = c.status();
  out->content_type = {c.content_type().data(), c.content_type().size()};
  out->body = {c.body().data(), c.body().size()};
  return 1;
}

void dispatch_admin_release(dispatch_admin_t *call) {
  if (call == nullptr) return;
  call->call->release();
  delete call;
}

int dispatch_engine_metrics_drain(dispatch_engine_t *engine,
                                  dispatch_metrics_handler_pt handler, void *ctx,
                                  dispatch_worker_metrics_t *worker) {
  if (engine == nullptr) return -1;
  try {
    if (worker != nullptr) *worker = dispatch_worker_metrics_t{};
    engine->engine->drain_metrics(handler, ctx, worker);
    return 0;
  } catch (const std::exception &ex) {
    report(&engine->engine->host().raw(), "dispatch_engine_metrics_drain", ex.what());
  } catch (...) {
    report(&engine->engine->host().raw(), "dispatch_engine_metrics_drain", "unknown error");
  }
  return -1;
}

int dispatch_fetch_allow_valid(const char *s, size_t len, char *err, size_t err_len) {
  try {
    dispatch::EgressPolicy policy;
    std::string why;
    if (policy.add(std::string(s, len), &why)) return 1;
    if (err_len) snprintf(err, err_len, "%s", why.c_str());
  } catch (const std::exception &ex) {
    if (err_len) snprintf(err, err_len, "%s", ex.what());
  }
  return 0;
}

int dispatch_name_valid(const char *s, size_t len) {
  if (len < 1 || len > 63) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      return 0;
    }
  }
  return 1;
}

const char *dispatch_outcome_name(dispatch_outcome_e outcome) {
  switch (outcome) {
    case DISPATCH_OUTCOME_OK: return "ok";
    case DISPATCH_OUTCOME_EXCEPTION: return "exception";
    case DISPATCH_OUTCOME_EXCEEDED_CPU: return "exceeded_cpu";
    case DISPATCH_OUTCOME_EXCEEDED_MEMORY: return "exceeded_memory";
    case DISPATCH_OUTCOME_EXCEEDED_WALL: return "exceeded_wall";
    case DISPATCH_OUTCOME_OVERLOADED: return "overloaded";
    case DISPATCH_OUTCOME_NOT_FOUND: return "not_found";
    case DISPATCH_OUTCOME_STORE_UNAVAILABLE: return "store_unavailable";
    case DISPATCH_OUTCOME_QUARANTINED: return "quarantined";
  }
  return "exception";
}

int dispatch_outcome_status(dispatch_outcome_e outcome) {
  switch (outcome) {
    case DISPATCH_OUTCOME_OK: return 200;
    case DISPATCH_OUTCOME_NOT_FOUND: return 404;
    case DISPATCH_OUTCOME_EXCEPTION: return 500;
    case DISPATCH_OUTCOME_EXCEEDED_WALL: return 504;
    case DISPATCH_OUTCOME_EXCEEDED_CPU:
    case DISPATCH_OUTCOME_EXCEEDED_MEMORY:
    case DISPATCH_OUTCOME_OVERLOADED:
    case DISPATCH_OUTCOME_STORE_UNAVAILABLE:
    case DISPATCH_OUTCOME_QUARANTINED: return 503;
  }
  return 500;
}

}  // extern "C"
