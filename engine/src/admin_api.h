// admin_api.h: the management API (SPEC 4), shaped like Cloudflare's API
// for Workers for Platforms: one AdminCall per HTTP call that nginx let
// through (dispatch_admin checked the caller and read the body).
//
// Redis (SPEC 3, and what this adds):
//   dispatch:namespaces             set   every namespace (SADD before a
//                                         write, SREM after a delete)
//   dispatch:{NS}:namespace         hash  namespace_id, namespace_name,
//                                         created_on, modified_on,
//                                         kv_namespace (the name its KV
//                                         data lives under: a rename moves
//                                         scripts, never KV data)
//   dispatch:{NS}:scripts           set   script names
//   dispatch:{NS}:script:NAME       hash  code, format, metadata, etag,
//                                         created_on, modified_on,
//                                         kv_namespace, module:PATH,
//                                         assets (static assets: the
//                                         manifest and config, JSON)
// Static assets (asset_upload.h; README "Static assets"):
//   dispatch:{NS}:asset:NAME:HASH   hash  body, type: one file's bytes
//   dispatch:{NS}:asset-index:NAME  set   every HASH stored for NAME (what
//                                         a cleanup deletes from)
//   dispatch:{NS}:asset-live:NAME   set   the hashes of NAME's stored
//                                         manifest (what a cleanup keeps)
//   dispatch:{NS}:assets-session:SID
//                                   hash  script, manifest, sizes (JSON
//                                         {hash: size}), upload_hash,
//                                         completion_hash; EX 3600
//   dispatch:{NS}:assets-session:SID:pending
//                                   set   hashes not uploaded yet; EX 3600
//   dispatch:{NS}:assets-session:SID:hashes
//                                   set   every hash of its manifest (what
//                                         a cleanup keeps); EX 3600
//   dispatch:{NS}:assets-sessions:NAME
//                                   set   SIDs of NAME's open sessions,
//                                         whose hashes a cleanup keeps
// Every write of a namespace's keys is one MULTI/EXEC (or one Lua script
// for a read-modify-write guarded by the etag it read) on keys of its one
// hash tag {NS}; then PUBLISH dispatch:events NS/NAME and the host's
// generation_bump, before the answer: the next request to any worker of
// the node serves what was written.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dispatch_engine.h"

struct json_t;

namespace dispatch {

class Engine;
struct Upload;

// A Redis reply, copied (hiredis frees its own after the callback).
struct RedisValue {
  int type = 0;  // REDIS_REPLY_*
  std::string str;
  long long integer = 0;
  std::vector<RedisValue> elements;
  bool is_error() const;
  std::map<std::string, std::string> as_hash() const;
};

class AdminCall : public std::enable_shared_from_this<AdminCall> {
 public:
  AdminCall(Engine &engine, const dispatch_admin_view_t &view);

  void start();
  // The host let go: never woken again.
  void release() { host_ctx_ = nullptr; }

  bool done() const { return done_; }
  int status() const { return status_; }
  const std::string &content_type() const { return content_type_; }
  const std::string &body() const { return body_; }

 private:
  using Replies = std::vector<RedisValue>;
  using Next = std::function<void(Replies &)>;

  // Sends the commands at once (a MULTI/EXEC among them stays unbroken);
  // next gets every reply in order, or the call answers 503 when Redis
  // failed.
  void redis(std::vector<std::vector<std::string>> cmds, Next next);
  // 503 for a change Redis refused (nothing of it made): undo_ goes first.
  void refused(const std::string &why);
  // After a stored change: PUBLISH each NS/NAME, bump the generation, then
  // answer 200 with result (owned).
  void changed(const std::vector<std::string> &ns_names, json_t *result);

  void ok(json_t *result, json_t *result_info = nullptr, int status = 200);
  void fail(int status, int code, const std::string &message);
  void answer_raw(int status, const std::string &content_type, std::string body);

  // routes
  void route();
  void namespaces_list();
  void namespace_create();
  void namespace_get();
  void namespace_rename();
  void namespace_delete();
  void scripts_list(bool delete_them);
  void script_upload(bool content_only);
  void script_get();
  void script_content();
  void script_delete();
  void settings_get(bool bindings_only);
  void settings_patch();
  void secrets(const std::string &secret);
  void secrets_bulk();
  // A namespace outside dispatch_namespaces cannot be made here.
  void refuse_cordoned(const std::string &ns);
  void tags(const std::string &tag);
  void quarantine();
  // static assets (wrangler's assets flow)
  void assets_session();
  void assets_upload();
  // Deletes NAME's asset keys no longer in its stored manifest (its live
  // set) nor in an open session of it (one Lua script around one SDIFF:
  // atomic against an upload), then next.
  void assets_cleanup(const std::string &name, std::function<void()> next);
  // The commands that delete every asset key and session of each of names
  // (read first: the index and session sets), then next with them.
  using CmdsFn = std::function<void(std::vector<std::vector<std::string>> &)>;
  void assets_deletes(const std::string &ns, const std::vector<std::string> &names, CmdsFn next);
  // Copies every asset key of names from namespace from to namespace to
  // (in bounded batches), then next.
  void assets_copy(const std::string &from, const std::string &to,
                   const std::vector<std::string> &names, std::function<void()> next);
  // attempt: how many times a concurrent deploy changed the assets this
  // one keeps between its read and its write (it reads them again).
  void script_upload_checked(bool content_only, std::shared_ptr<Upload> upload,
                             std::string assets_field, std::string sid, int attempt = 0);

  // Reads the script (every field but code and modules), then fn with its
  // fields and parsed metadata; 404 when it does not exist.
  using ScriptFn = std::function<void(std::map<std::string, std::string> &, json_t *meta)>;
  void with_script(ScriptFn fn);
  // Stores new metadata for the script read with etag `etag`: refused with
  // 409 when it changed meanwhile. Then answers result.
  void update_metadata(const std::string &etag, json_t *meta, json_t *result);

  std::string query_param(const std::string &name, bool *present = nullptr) const;
  json_t *body_json(std::string *err) const;

  Engine &engine_;
  void *host_ctx_;
  std::string method_;
  std::vector<std::string> segments_;  // after .../namespaces
  std::string raw_path_;
  std::map<std::string, std::string> query_;
  std::string content_type_in_;
  std::string request_body_;
  std::vector<std::string> messages_;  // a success's "messages" (lines of _redirects skipped)
  // Sent (best effort) when Redis refuses a change before it is made: what
  // a rename copied ahead of its transaction.
  std::vector<std::vector<std::string>> undo_;
  std::string ns_;
  std::string name_;
  std::string bearer_;
  bool upload_only_ = false;
  bool verify_only_ = false;

  bool done_ = false;
  int status_ = 500;
  std::string content_type_;
  std::string body_;
};

}  // namespace dispatch
