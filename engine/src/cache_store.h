// cache_store.h: the Cache API's storage (api/cache.h is its JavaScript
// face). Bodies are files under dispatch_cache_path, written and read by
// this worker on its event loop in pieces of at most 64 KiB (as nginx's own
// cache does without aio threads: small blocking reads and writes of a
// local disk); the index of what exists, its size, expiry and recency lives
// in nginx's shared memory behind the host's cache_* callbacks, so every
// worker process of the node sees one cache.
//
// A key is the SHA-256 of a length-prefixed encoding of (namespace, script,
// the script's created_on, cache name, URL): no choice of names or URLs
// makes two tenants' keys meet, and a script deleted and created again
// (perhaps for another customer) never sees the entries of the one before. The whole encoded key is also written at the head of the body file
// and compared when the file is opened, so even a digest collision could
// not hand one tenant another's entry.
//
// File layout: a fixed header (magic, key length, meta length, body length,
// stored-at ms), the key, the meta (JSON the built-ins wrote: status,
// headers, the request's Vary values), then the body. A put writes
// PATH/tmp/SERIAL, renamed to PATH/K/KK/DIGEST-SERIAL once complete and
// indexed; an entry replaced, expired, deleted or evicted loses its file
// right after the index let go of it. A reader that has the file open keeps
// reading it after that (POSIX unlink), unless it let go of its file for
// want of files in the worker (take_slot_from_readers).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "dispatch_engine.h"
#include "host.h"
#include "script_store.h"

namespace dispatch {

class CacheStore;

// A body being written; without commit() its temporary file goes.
class CacheWriter {
 public:
  ~CacheWriter();
  CacheWriter(const CacheWriter &) = delete;
  CacheWriter &operator=(const CacheWriter &) = delete;
  // false once the body is over the tenant's bound or the disk failed: the
  // entry will not be stored (commit() then stores nothing).
  bool write(const char *data, size_t len);
  bool failed() const { return failed_; }

 private:
  friend class CacheStore;
  CacheWriter(CacheStore &store, const void *owner) : store_(store), owner_(owner) {}
  CacheStore &store_;
  const void *owner_;
  int fd_ = -1;  // only within begin_put, write and commit
  std::string tmp_path_;
  dispatch_cache_entry_t entry_{};
  uint64_t header_len_ = 0;
  uint64_t body_len_ = 0;
  uint64_t reserved_ = 0;  // of store_.writing_[owner_]
  bool failed_ = false;
};

// A body being read, from start to end (a range of it). The file is open
// only while its body is being read: match() reads the head and closes it,
// the first read() opens it again (checking it is still the same entry) and
// the last one closes it, so that matched responses a script never reads
// hold no file.
class CacheReader {
 public:
  ~CacheReader();
  CacheReader(const CacheReader &) = delete;
  CacheReader &operator=(const CacheReader &) = delete;
  // Up to len bytes of the body into buf: how many, 0 at the end, -1 when
  // it cannot be read (gone meanwhile, too many files open).
  long read(char *buf, size_t len);
  void set_range(uint64_t start, uint64_t end) {
    pos_ = start;
    end_ = end;
  }
  uint64_t body_length() const { return body_len_; }
  uint64_t stored_ms() const { return stored_ms_; }
  const std::string &meta() const { return meta_; }

 private:
  friend class CacheStore;
  CacheReader(CacheStore &store, const void *owner) : store_(store), owner_(owner) {}
  bool reopen();
  void close_file();
  CacheStore &store_;
  const void *owner_;
  int fd_ = -1;
  bool slot_ = false;
  std::list<CacheReader *>::iterator lru_;  // in store_.readers_ while slot_
  std::string path_;
  std::string head_;  // the file's header and key, as first read
  uint64_t body_offset_ = 0;
  uint64_t body_len_ = 0;
  uint64_t stored_ms_ = 0;
  uint64_t pos_ = 0;
  uint64_t end_ = 0;
  std::string meta_;
};

class CacheStore {
 public:
  // Open files one isolate, and the whole worker, may hold at once (matched
  // bodies not read to their end), so no tenant runs the worker out of fds;
  // and puts in progress per isolate (each holds a file only within a
  // write): past them a put stores nothing and a read errors.
  static constexpr int kMaxOpenPerOwner = 128;
  static constexpr int kMaxOpen = 512;

  CacheStore(const dispatch_engine_conf_t &conf, const Host &host);

  bool enabled() const { return enabled_; }
  uint64_t tenant_max_size() const { return tenant_max_size_; }

  // The encoded key of a script's entry, and of the script itself (whose
  // digest names it in the index's per-tenant accounting).
  static std::string encode_tenant(const ScriptSource &script);
  static std::string encode_key(const ScriptSource &script, const std::string &cache_name,
                                const std::string &url);
  static void digest(const std::string &bytes, unsigned char out[DISPATCH_CACHE_KEY_LEN]);

  // owner: the isolate, for the bound on open files. Null with *err set when
  // the cache cannot take it (disabled, too many open, the disk).
  std::unique_ptr<CacheWriter> begin_put(const void *owner, const ScriptSource &script,
                                         const std::string &key,
                                         const std::string &meta, uint64_t ttl_ms,
                                         std::string *err);
  // Renames the file into place, indexes it, evicts down to the bounds.
  bool commit(CacheWriter &writer, std::string *err);
  // The fresh entry of key, opened, or null (a miss).
  std::unique_ptr<CacheReader> open(const void *owner, const std::string &key, std::string *err);
  bool remove(const std::string &key);

 private:
  friend class CacheWriter;
  friend class CacheReader;
  std::string file_path(const dispatch_cache_entry_t &entry) const;
  void delete_file(const dispatch_cache_entry_t &entry) const;
  // Deletes temporary files of puts abandoned long ago.
  void sweep_tmp(const std::string &dir, uint64_t now) const;
  bool take_slot(const void *owner);
  void give_slot(const void *owner);
  // A slot (within the isolate's bound); when the worker has none left, the
  // least recently read body lets go of its file (it opens it again when
  // next read), so that idle readers some isolates hold do not shut every
  // other tenant out of the cache.
  bool take_slot_from_readers(const void *owner);
  // The same for a body being read, which then counts as read last.
  bool take_reader_slot(CacheReader &reader);
  // Adds len to owner's bytes in temporary files; false past the bound.
  bool reserve(CacheWriter &w, uint64_t len);
  void release(CacheWriter &w);
  void log(dispatch_log_level_e level, const std::string &msg) const;

  const Host &host_;
  bool enabled_;
  std::string path_;
  uint64_t tenant_max_size_;
  std::unordered_map<const void *, int> open_;
  int open_total_ = 0;
  std::list<CacheReader *> readers_;  // holding a slot, least recently read first
  std::unordered_map<const void *, int> puts_;  // puts in progress per owner
  // Bytes the puts in progress of each owner have written to temporary
  // files: together bounded by tenant_max_size, as what they would store.
  std::unordered_map<const void *, uint64_t> writing_;
  uint64_t last_tmp_sweep_ms_ = 0;
};

}  // namespace dispatch
