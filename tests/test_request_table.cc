// tests/test_request_table.cc: RequestTable (engine/src/request_table.h),
// the engine's requests by id, against std::unordered_map under random
// inserts and removals, with ids chosen to collide and to wrap around the
// end of the table (where backward-shift deletion has the most to get
// wrong), across its growth.
#include <cstdio>
#include <memory>
#include <random>
#include <unordered_map>
#include <vector>

#include "api/dispatch.h"
#include "api/fetch.h"
#include "api/websocket.h"
#include "request_table.h"

namespace {

int failures = 0;

void check(bool ok, const char *what) {
  std::printf("%s - %s\n", ok ? "ok" : "not ok", what);
  if (!ok) failures++;
}

std::unique_ptr<dispatch::RequestScope> scope(uint64_t id) {
  auto s = std::make_unique<dispatch::RequestScope>();
  s->id = id;
  return s;
}

// Every id the model has is found, as the same scope; a few it has not
// are not; each() visits exactly the model's.
bool agrees(const dispatch::RequestTable &table,
            const std::unordered_map<uint64_t, dispatch::RequestScope *> &model,
            const std::vector<uint64_t> &gone) {
  if (table.size() != model.size()) return false;
  for (const auto &entry : model) {
    if (table.find(entry.first) != entry.second) return false;
  }
  for (uint64_t id : gone) {
    if (model.count(id) == 0 && table.find(id) != nullptr) return false;
  }
  size_t seen = 0;
  bool right = true;
  table.each([&](dispatch::RequestScope &s) {
    seen++;
    auto it = model.find(s.id);
    right = right && it != model.end() && it->second == &s;
  });
  return right && seen == model.size();
}

void random_run(uint64_t seed, uint64_t stride, size_t most) {
  std::mt19937_64 rng(seed);
  dispatch::RequestTable table;
  std::unordered_map<uint64_t, dispatch::RequestScope *> model;
  std::vector<uint64_t> live, gone;
  uint64_t next = 1;
  bool ok = true;
  for (int step = 0; step < 20000 && ok; step++) {
    bool add = live.empty() || (live.size() < most && rng() % 2 == 0);
    if (add) {
      // ids that share low bits (stride 64, 128, ...) collide in the table
      uint64_t id = next;
      next += stride;
      auto s = scope(id);
      model[id] = s.get();
      table.insert(std::move(s));
      live.push_back(id);
    } else {
      size_t i = size_t(rng() % live.size());
      uint64_t id = live[i];
      live[i] = live.back();
      live.pop_back();
      std::unique_ptr<dispatch::RequestScope> out = table.take(id);
      ok = out != nullptr && out.get() == model[id] && out->id == id;
      model.erase(id);
      gone.push_back(id);
      if (gone.size() > 64) gone.erase(gone.begin());
    }
    if (step % 97 == 0 || live.size() < 3) ok = ok && agrees(table, model, gone);
  }
  ok = ok && agrees(table, model, gone);
  char what[128];
  std::snprintf(what, sizeof(what), "random inserts and removals agree (seed %llu, stride %llu, at most %zu live)",
                (unsigned long long)seed, (unsigned long long)stride, most);
  check(ok, what);
}

}  // namespace

int main() {
  {
    dispatch::RequestTable table;
    check(table.find(1) == nullptr && table.take(1) == nullptr, "an empty table finds nothing");
    table.insert(scope(5));
    check(table.find(5) != nullptr && table.find(5)->id == 5, "an inserted request is found");
    check(table.find(0) == nullptr && table.take(0) == nullptr, "id 0 is never a request");
    check(table.take(5) != nullptr && table.find(5) == nullptr && table.size() == 0,
          "a taken request is gone");
  }
  {
    // 63, 127, 191 share the last slot of 64; the ones after them wrap to
    // slot 0, 1: removing the first must pull the others back.
    dispatch::RequestTable table;
    for (uint64_t id : {63, 127, 191, 64, 128}) table.insert(scope(id));
    table.take(63).reset();
    bool ok = true;
    for (uint64_t id : {127, 191, 64, 128}) ok = ok && table.find(id) && table.find(id)->id == id;
    check(ok && table.find(63) == nullptr && table.size() == 4,
          "a removal at the end of the table keeps the entries that wrapped past it");
  }
  for (uint64_t seed = 1; seed <= 3; seed++) {
    random_run(seed, 1, 40);      // sequential ids, as the engine makes them
    random_run(seed, 64, 40);     // every id in the same home slot at first
    random_run(seed, 1, 3000);    // growth
    random_run(seed, 61, 500);
  }
  {
    dispatch::RequestTable table;
    for (uint64_t id = 1; id <= 1000; id++) table.insert(scope(id));
    table.clear();
    check(table.size() == 0 && table.find(500) == nullptr, "clear() lets every request go");
  }
  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
