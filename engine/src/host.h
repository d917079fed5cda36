// host.h: the engine's C++ view of dispatch_host_t, with RAII owners for
// the timers and fd watches it lends.
#pragma once

#include <cstdarg>
#include <functional>
#include <string>

#include "dispatch_engine.h"

namespace dispatch {

class Host {
 public:
  explicit Host(const dispatch_host_t &h) : h_(h) {}

  const dispatch_host_t &raw() const { return h_; }

  // One entry is one line in nginx's log: a newline and the indentation
  // after it (stack traces) fold into "; ", and any other control byte a
  // tenant's text holds (NUL, ESC) is written as \xNN, so no script can
  // forge a line or a terminal sequence. request_ctx: the host's request
  // the line is about, while the host holds it.
  void log(dispatch_log_level_e level, const std::string &msg,
           void *request_ctx = nullptr) const {
    static const char hex[] = "0123456789abcdef";
    std::string line;
    line.reserve(msg.size());
    for (size_t i = 0; i < msg.size(); i++) {
      unsigned char c = static_cast<unsigned char>(msg[i]);
      if (c != '\n' && c != '\r') {
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
          line += "\\x";
          line += hex[c >> 4];
          line += hex[c & 15];
        } else {
          line += msg[i];
        }
        continue;
      }
      while (i + 1 < msg.size() && (msg[i + 1] == ' ' || msg[i + 1] == '\t' ||
                                    msg[i + 1] == '\n' || msg[i + 1] == '\r')) {
        i++;
      }
      line += "; ";
    }
    h_.log(h_.data, request_ctx, level, line.data(), line.size());
  }
  // A line that is safe as it is (a JSON object): passed on untouched.
  void log_raw(dispatch_log_level_e level, const std::string &line,
               void *request_ctx = nullptr) const {
    h_.log(h_.data, request_ctx, level, line.data(), line.size());
  }
  // Tagged with the tenant, as every line about a script is.
  void log_script(dispatch_log_level_e level, const std::string &ns,
                  const std::string &script, const std::string &msg) const {
    log(level, "dispatch \"" + ns + "/" + script + "\": " + msg);
  }

  void wake(void *request_ctx) const { h_.wake(h_.data, request_ctx); }

 private:
  dispatch_host_t h_;
};

// A host timer owned by one object; destroyed with it.
class Timer {
 public:
  Timer(const Host &host, std::function<void()> fn, bool cancelable)
      : host_(host), fn_(std::move(fn)) {
    t_ = host_.raw().timer_create(host_.raw().data, &Timer::fire, this,
                                  cancelable ? 1 : 0);
  }
  ~Timer() {
    if (t_) host_.raw().timer_destroy(t_);
  }
  Timer(const Timer &) = delete;
  Timer &operator=(const Timer &) = delete;

  bool valid() const { return t_ != nullptr; }
  void start(uint64_t msec) {
    armed_ = true;
    host_.raw().timer_start(t_, msec);
  }
  void stop() {
    if (armed_) host_.raw().timer_stop(t_);
    armed_ = false;
  }
  bool armed() const { return armed_; }

 private:
  static void fire(void *arg) {
    auto *self = static_cast<Timer *>(arg);
    self->armed_ = false;
    self->fn_();  // may destroy self: nothing after this line
  }

  const Host &host_;
  std::function<void()> fn_;
  dispatch_timer_t *t_ = nullptr;
  bool armed_ = false;
};

}  // namespace dispatch
