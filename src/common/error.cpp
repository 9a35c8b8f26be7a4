#include "strata/error.h"

#include <cstring>

#include <fmt/format.h>

namespace strata {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case ErrorCode::kInvalidPath:
      return "INVALID_PATH";
    case ErrorCode::kEntryTooLarge:
      return "ENTRY_TOO_LARGE";
    case ErrorCode::kConfigInvalid:
      return "CONFIG_INVALID";
    case ErrorCode::kNotFound:
      return "NOT_FOUND";
    case ErrorCode::kIoError:
      return "IO_ERROR";
    case ErrorCode::kWalCorrupt:
      return "WAL_CORRUPT";
    case ErrorCode::kWalLockFailed:
      return "WAL_LOCK_FAILED";
    case ErrorCode::kWalClosed:
      return "WAL_CLOSED";
    case ErrorCode::kWalStopped:
      return "WAL_STOPPED";
    case ErrorCode::kDiskPressureCritical:
      return "DISK_PRESSURE_CRITICAL";
    case ErrorCode::kDiskFull:
      return "DISK_FULL";
    case ErrorCode::kCheckpointVerifyFailed:
      return "CHECKPOINT_VERIFY_FAILED";
    case ErrorCode::kStorageNotFound:
      return "STORAGE_NOT_FOUND";
    case ErrorCode::kStorageAccessDenied:
      return "STORAGE_ACCESS_DENIED";
    case ErrorCode::kStorageBadCredentials:
      return "STORAGE_BAD_CREDENTIALS";
    case ErrorCode::kStorageThrottled:
      return "STORAGE_THROTTLED";
    case ErrorCode::kStorageNetwork:
      return "STORAGE_NETWORK";
    case ErrorCode::kStorageServerError:
      return "STORAGE_SERVER_ERROR";
    case ErrorCode::kStorageIntegrity:
      return "STORAGE_INTEGRITY";
    case ErrorCode::kStorageUnavailable:
      return "STORAGE_UNAVAILABLE";
    case ErrorCode::kStoragePreconditionFailed:
      return "STORAGE_PRECONDITION_FAILED";
    case ErrorCode::kStorageRejected:
      return "STORAGE_REJECTED";
    case ErrorCode::kGitError:
      return "GIT_ERROR";
    case ErrorCode::kGitConflict:
      return "GIT_CONFLICT";
    case ErrorCode::kTimeout:
      return "TIMEOUT";
    case ErrorCode::kInternal:
      return "INTERNAL";
    case ErrorCode::kSnapshotInvalid:
      return "SNAPSHOT_INVALID";
    case ErrorCode::kManifestInvalid:
      return "MANIFEST_INVALID";
    case ErrorCode::kLineageConflict:
      return "LINEAGE_CONFLICT";
    case ErrorCode::kRecoveryFailed:
      return "RECOVERY_FAILED";
    case ErrorCode::kRecoveryLoop:
      return "RECOVERY_LOOP_DETECTED";
    case ErrorCode::kRecoveryOutOfRange:
      return "RECOVERY_OUT_OF_RANGE";
    case ErrorCode::kFormatUnsupported:
      return "FORMAT_UNSUPPORTED";
  }
  return "UNKNOWN";
}

Error::Error(ErrorCode code, std::string message)
    : std::runtime_error(std::move(message)), code_(code) {}

void throw_errno(std::string_view what, std::string_view path, int err) {
  throw Error(ErrorCode::kIoError, fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

}  // namespace strata
