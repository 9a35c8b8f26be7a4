#include <spdlog/spdlog.h>

#include "strata/config.h"
#include "strata/storage.h"

namespace strata {

std::unique_ptr<CheckpointStorage> open_checkpoint_storage_from_env(
    const std::string& fallback_dir) {
  if (config::env("R2_ENDPOINT")) {
    return std::make_unique<S3CheckpointStorage>(S3Config::from_env());
  }
  spdlog::info("storage: R2_ENDPOINT is not set; using the filesystem store at {}", fallback_dir);
  return std::make_unique<FsCheckpointStorage>(fallback_dir);
}

}  // namespace strata
