#include "storage/check_probe.h"

#include <unistd.h>

#include <fmt/format.h>

#include "common/random_id.h"
#include "strata/error.h"

namespace strata::storage {

CheckResult failed_check(std::string name, const std::exception& e) {
  const auto* se = dynamic_cast<const Error*>(&e);
  return {std::move(name), false,
          se ? fmt::format("{}: {}", se->code_name(), se->what()) : e.what()};
}

void check_probe_round_trip(CheckpointStorage& store, std::vector<CheckResult>& out) {
  std::string probe = fmt::format("strata-check/probe-{}-{}", ::getpid(), random_hex(4));
  std::string payload = fmt::format("strata remote check probe {}\n", probe);
  try {
    store.write_file(probe, payload);
    out.push_back({"write", true, probe});
  } catch (const std::exception& e) {
    out.push_back(failed_check("write", e));
    return;
  }
  try {
    auto back = store.read_file(probe);
    if (!back || *back != payload) {
      out.push_back(
          {"read", false,
           back ? "content differs from what was written" : "the object just written is missing"});
      return;
    }
    out.push_back({"read", true, fmt::format("{} bytes, SHA-256 matches", back->size())});
  } catch (const std::exception& e) {
    out.push_back(failed_check("read", e));
    return;
  }
  try {
    store.delete_file(probe);
    if (store.stat(probe)) {
      out.push_back({"delete", false, "the probe is still there after delete"});
      return;
    }
    out.push_back({"delete", true, "probe removed"});
  } catch (const std::exception& e) {
    out.push_back(failed_check("delete", e));
  }
}

}  // namespace strata::storage
