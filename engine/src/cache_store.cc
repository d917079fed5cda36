#include "cache_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstring>

namespace dispatch {

namespace {

constexpr char kMagic[8] = {'D', 'S', 'P', 'C', 'A', 'C', 'H', '1'};

// magic, key length, meta length, body length, stored-at ms
struct FileHeader {
  char magic[8];
  uint32_t key_len;
  uint32_t meta_len;
  uint64_t body_len;
  uint64_t stored_ms;
};

uint64_t now_ms() {
  return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
}

void put_len(std::string *out, const std::string &s) {
  uint64_t n = s.size();
  for (int i = 7; i >= 0; i--) out->push_back(char((n >> (8 * i)) & 0xff));
  out->append(s);
}

std::string hex(const unsigned char *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; i++) {
    s.push_back(digits[p[i] >> 4]);
    s.push_back(digits[p[i] & 15]);
  }
  return s;
}

bool write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= size_t(n);
  }
  return true;
}

bool pread_all(int fd, char *buf, size_t len, uint64_t off) {
  while (len > 0) {
    ssize_t n = ::pread(fd, buf, len, off_t(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf += n;
    len -= size_t(n);
    off += uint64_t(n);
  }
  return true;
}

bool make_dir(const std::string &path) {
  return ::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST;
}

bool is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  return true;
}

// A put no request finishes (its stream never ends, its isolate idles and
// is not collected) leaves its temporary file; no put outlives the wall
// limit and ctx.waitUntil's 30 s, so one older than this is abandoned. A
// writer that still held it would only fail to rename it.
constexpr uint64_t kTmpMaxAgeMs = 10 * 60 * 1000;
constexpr uint64_t kTmpSweepEveryMs = 60 * 1000;

}  // namespace

CacheStore::CacheStore(const dispatch_engine_conf_t &conf, const Host &host)
    : host_(host),
      enabled_(conf.cache_path != nullptr && host.raw().cache_lookup != nullptr &&
               host.raw().cache_insert != nullptr && host.raw().cache_remove != nullptr &&
               host.raw().cache_evict != nullptr),
      path_(conf.cache_path ? conf.cache_path : ""),
      tenant_max_size_(conf.cache_tenant_max_size ? conf.cache_tenant_max_size
                                                  : uint64_t(64) << 20) {}

std::string CacheStore::encode_tenant(const ScriptSource &script) {
  std::string out = "dispatch-cache-v1";
  put_len(&out, script.ns);
  put_len(&out, script.name);
  put_len(&out, script.created_on);
  return out;
}

std::string CacheStore::encode_key(const ScriptSource &script, const std::string &cache_name,
                                   const std::string &url) {
  std::string out = encode_tenant(script);
  put_len(&out, cache_name);
  put_len(&out, url);
  return out;
}

void CacheStore::digest(const std::string &bytes, unsigned char out[DISPATCH_CACHE_KEY_LEN]) {
  unsigned int len = DISPATCH_CACHE_KEY_LEN;
  if (EVP_Digest(bytes.data(), bytes.size(), out, &len, EVP_sha256(), nullptr) != 1) {
    std::memset(out, 0, DISPATCH_CACHE_KEY_LEN);
  }
}

void CacheStore::log(dispatch_log_level_e level, const std::string &msg) const {
  host_.log(level, "dispatch cache: " + msg);
}

std::string CacheStore::file_path(const dispatch_cache_entry_t &entry) const {
  std::string name = hex(entry.key, DISPATCH_CACHE_KEY_LEN);
  // levels=1:2 as nginx's caches: the last hex digits name the directories
  return path_ + "/" + name.substr(63, 1) + "/" + name.substr(61, 2) + "/" + name + "-" +
         hex(reinterpret_cast<const unsigned char *>(&entry.serial), sizeof(entry.serial));
}

void CacheStore::delete_file(const dispatch_cache_entry_t &entry) const {
  std::string path = file_path(entry);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    log(DISPATCH_LOG_WARN, "cannot delete " + path + ": " + std::strerror(errno));
  }
}

bool CacheStore::take_slot(const void *owner) {
  if (open_total_ >= kMaxOpen) return false;
  int &n = open_[owner];
  if (n >= kMaxOpenPerOwner) return false;
  n++;
  open_total_++;
  return true;
}

bool CacheStore::reserve(CacheWriter &w, uint64_t len) {
  uint64_t &n = writing_[w.owner_];
  if (len > tenant_max_size_ - n) return false;  // n never exceeds the bound
  n += len;
  w.reserved_ += len;
  return true;
}

void CacheStore::release(CacheWriter &w) {
  auto it = writing_.find(w.owner_);
  if (it == writing_.end()) return;
  it->second -= w.reserved_;
  w.reserved_ = 0;
  if (it->second == 0) writing_.erase(it);
}

void CacheStore::give_slot(const void *owner) {
  auto it = open_.find(owner);
  if (it == open_.end()) return;
  open_total_--;
  if (--it->second <= 0) open_.erase(it);
}

std::unique_ptr<CacheWriter> CacheStore::begin_put(const void *owner,
                                                   const ScriptSource &script,
                                                   const std::string &key,
                                                   const std::string &meta, uint64_t ttl_ms,
                                                   std::string *err) {
  if (!enabled_) {
    *err = "no cache";
    return nullptr;
  }
  if (key.size() + meta.size() + sizeof(FileHeader) > tenant_max_size_) {
    *err = "larger than the cache may hold";
    return nullptr;
  }
  // A put holds no file between its writes (a body may take as long as its
  // stream likes): its count is bounded per isolate, not the worker's files.
  int &puts = puts_[owner];
  if (puts >= kMaxOpenPerOwner) {
    *err = "too many cache operations in progress";
    return nullptr;
  }
  puts++;
  std::unique_ptr<CacheWriter> w(new CacheWriter(*this, owner));
  digest(key, w->entry_.key);
  digest(encode_tenant(script), w->entry_.tenant);
  if (RAND_bytes(reinterpret_cast<unsigned char *>(&w->entry_.serial),
                 sizeof(w->entry_.serial)) != 1) {
    *err = "no random serial";
    return nullptr;
  }
  uint64_t now = now_ms();
  w->entry_.expires_ms = ttl_ms > UINT64_MAX - now ? UINT64_MAX : now + ttl_ms;

  std::string tmp_dir = path_ + "/tmp";
  make_dir(tmp_dir);
  if (now - last_tmp_sweep_ms_ > kTmpSweepEveryMs) {
    last_tmp_sweep_ms_ = now;
    sweep_tmp(tmp_dir, now);
  }
  w->tmp_path_ = tmp_dir + "/" +
                 hex(reinterpret_cast<const unsigned char *>(&w->entry_.serial),
                     sizeof(w->entry_.serial));
  if (!reserve(*w, key.size() + meta.size() + sizeof(FileHeader))) {
    *err = "its puts in progress hold what the cache may keep of it";
    return nullptr;
  }
  w->fd_ = ::open(w->tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (w->fd_ < 0) {
    log(DISPATCH_LOG_ERR, "cannot create " + w->tmp_path_ + ": " + std::strerror(errno));
    w->tmp_path_.clear();
    *err = "the cache cannot store it now";
    return nullptr;
  }
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.key_len = uint32_t(key.size());
  h.meta_len = uint32_t(meta.size());
  h.body_len = 0;  // set by commit
  h.stored_ms = now;
  bool written = write_all(w->fd_, reinterpret_cast<const char *>(&h), sizeof(h)) &&
                 write_all(w->fd_, key.data(), key.size()) &&
                 write_all(w->fd_, meta.data(), meta.size());
  ::close(w->fd_);
  w->fd_ = -1;
  if (!written) {
    log(DISPATCH_LOG_ERR, "cannot write " + w->tmp_path_ + ": " + std::strerror(errno));
    *err = "the cache cannot store it now";
    return nullptr;
  }
  w->header_len_ = sizeof(h) + key.size() + meta.size();
  return w;
}

void CacheStore::sweep_tmp(const std::string &dir, uint64_t now) const {
  DIR *d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (struct dirent *e = ::readdir(d)) {
    if (std::strlen(e->d_name) != 16 || !is_hex(e->d_name, 16)) continue;
    std::string path = dir + "/" + e->d_name;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;
    uint64_t mtime = uint64_t(st.st_mtime) * 1000;
    if (mtime + kTmpMaxAgeMs < now) ::unlink(path.c_str());
  }
  ::closedir(d);
}

CacheWriter::~CacheWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
  auto it = store_.puts_.find(owner_);
  if (it != store_.puts_.end() && --it->second <= 0) store_.puts_.erase(it);
  store_.release(*this);
}

bool CacheWriter::write(const char *data, size_t len) {
  if (failed_ || header_len_ == 0) return false;
  // Over the bound alone, or with the script's other puts in progress:
  // stop writing now (its temporary file goes with the writer).
  if (!store_.reserve(*this, len)) {
    failed_ = true;
    return false;
  }
  // Opened for this write only (see begin_put).
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  bool written = fd_ >= 0 && write_all(fd_, data, len);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!written) {
    store_.log(DISPATCH_LOG_ERR, "cannot write " + tmp_path_ + ": " + std::strerror(errno));
    failed_ = true;
    return false;
  }
  body_len_ += len;
  return true;
}

bool CacheStore::commit(CacheWriter &w, std::string *err) {
  if (w.failed_ || w.header_len_ == 0) {
    *err = "not stored";
    return false;
  }
  uint64_t body_len = w.body_len_;
  w.fd_ = ::open(w.tmp_path_.c_str(), O_WRONLY | O_CLOEXEC);
  bool written = w.fd_ >= 0 && ::pwrite(w.fd_, &body_len, sizeof(body_len),
                                        offsetof(FileHeader, body_len)) == ssize_t(sizeof(body_len));
  if (w.fd_ >= 0) ::close(w.fd_);
  w.fd_ = -1;
  if (!written) {
    *err = "the cache cannot store it now";
    return false;
  }
  w.entry_.size = w.header_len_ + w.body_len_;

  std::string final_path = file_path(w.entry_);
  size_t slash = final_path.rfind('/');
  make_dir(final_path.substr(0, slash - 3));
  make_dir(final_path.substr(0, slash));
  if (::rename(w.tmp_path_.c_str(), final_path.c_str()) != 0) {
    log(DISPATCH_LOG_ERR, "cannot rename into " + final_path + ": " + std::strerror(errno));
    *err = "the cache cannot store it now";
    return false;
  }
  w.tmp_path_.clear();

  const dispatch_host_t &h = host_.raw();
  dispatch_cache_entry_t replaced{}, evicted{};
  int rc = -1;
  // No room in the index: the node's least recently used entries make some.
  // A freed entry frees a page of its slab size only once the page is
  // empty, so a new tenant's record may take a few evictions.
  for (int tries = 0; tries < 128; tries++) {
    rc = h.cache_insert(h.cache_data, &w.entry_, &replaced);
    if (rc == 1 || rc == -2) delete_file(replaced);
    if (rc >= 0) break;
    if (h.cache_evict(h.cache_data, nullptr, &evicted) != 1) break;
    delete_file(evicted);
  }
  if (rc < 0) {
    ::unlink(final_path.c_str());
    *err = "the cache index is full";
    return false;
  }
  // down to the tenant's bound, then the node's: least recently used first
  while (h.cache_evict(h.cache_data, w.entry_.tenant, &evicted) == 1) delete_file(evicted);
  return true;
}

std::unique_ptr<CacheReader> CacheStore::open(const void *owner, const std::string &key,
                                              std::string *err) {
  if (!enabled_) return nullptr;
  const dispatch_host_t &h = host_.raw();
  dispatch_cache_entry_t entry{};
  unsigned char digest_bytes[DISPATCH_CACHE_KEY_LEN];
  digest(key, digest_bytes);
  int rc = h.cache_lookup(h.cache_data, digest_bytes, &entry);
  if (rc == 2) delete_file(entry);  // expired: the index let go of it
  if (rc != 1) return nullptr;
  std::unique_ptr<CacheReader> r(new CacheReader(*this, owner));
  r->path_ = file_path(entry);
  int fd = ::open(r->path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;  // evicted meanwhile by another worker
  FileHeader fh{};
  bool ok = pread_all(fd, reinterpret_cast<char *>(&fh), sizeof(fh), 0) &&
            std::memcmp(fh.magic, kMagic, sizeof(kMagic)) == 0 && fh.key_len == key.size() &&
            uint64_t(sizeof(fh)) + fh.key_len + fh.meta_len + fh.body_len == entry.size;
  // the whole key, not only its digest
  std::string stored(ok ? fh.key_len : 0, '\0');
  ok = ok && pread_all(fd, stored.data(), stored.size(), sizeof(fh)) && stored == key;
  if (ok) {
    r->meta_.resize(fh.meta_len);
    ok = pread_all(fd, r->meta_.data(), r->meta_.size(), sizeof(fh) + fh.key_len);
  }
  ::close(fd);
  if (!ok) return nullptr;
  r->head_.assign(reinterpret_cast<const char *>(&fh), sizeof(fh));
  r->head_ += stored;
  r->body_offset_ = sizeof(fh) + fh.key_len + fh.meta_len;
  r->body_len_ = fh.body_len;
  r->stored_ms_ = fh.stored_ms;
  r->pos_ = 0;
  r->end_ = fh.body_len;
  return r;
}

CacheReader::~CacheReader() { close_file(); }

void CacheReader::close_file() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (slot_) {
    store_.readers_.erase(lru_);
    store_.give_slot(owner_);
  }
  slot_ = false;
}

bool CacheStore::take_slot_from_readers(const void *owner) {
  if (take_slot(owner)) return true;
  // Past the isolate's own bound: refused (t/76). Past the worker's: the
  // least recently read body of any isolate closes its file.
  auto own = open_.find(owner);
  if ((own != open_.end() && own->second >= kMaxOpenPerOwner) || readers_.empty()) return false;
  readers_.front()->close_file();
  return take_slot(owner);
}

bool CacheStore::take_reader_slot(CacheReader &reader) {
  if (!take_slot_from_readers(reader.owner_)) return false;
  reader.lru_ = readers_.insert(readers_.end(), &reader);
  return true;
}

// The file of the entry match() found, if it is still there and the same.
bool CacheReader::reopen() {
  if (!store_.take_reader_slot(*this)) return false;
  slot_ = true;
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return false;
  std::string head(head_.size(), '\0');
  return pread_all(fd_, head.data(), head.size(), 0) && head == head_;
}

long CacheReader::read(char *buf, size_t len) {
  if (pos_ >= end_) {
    close_file();
    return 0;
  }
  if (fd_ < 0 && !reopen()) {
    close_file();
    return -1;
  }
  if (len > end_ - pos_) len = size_t(end_ - pos_);
  ssize_t n;
  do {
    n = ::pread(fd_, buf, len, off_t(body_offset_ + pos_));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return -1;  // shorter than its header said: cut short
  store_.readers_.splice(store_.readers_.end(), store_.readers_, lru_);  // read last
  pos_ += uint64_t(n);
  if (pos_ >= end_) close_file();
  return long(n);
}

bool CacheStore::remove(const std::string &key) {
  if (!enabled_) return false;
  const dispatch_host_t &h = host_.raw();
  unsigned char digest_bytes[DISPATCH_CACHE_KEY_LEN];
  digest(key, digest_bytes);
  dispatch_cache_entry_t removed{};
  if (h.cache_remove(h.cache_data, digest_bytes, &removed) != 1) return false;
  delete_file(removed);
  return removed.expires_ms > now_ms();
}

}  // namespace dispatch
