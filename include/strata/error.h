// The one error type of the strata library: a stable code callers can branch
// on, and a message a person can act on. Messages never carry secrets.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace strata {

enum class ErrorCode {
  kInvalidArgument,       // a caller passed something malformed
  kInvalidPath,           // an entry or object path broke the path rules
  kEntryTooLarge,         // an entry exceeds WAL_MAX_ENTRY_BYTES
  kConfigInvalid,         // an environment variable or option has a bad value
  kNotFound,              // the thing asked for does not exist
  kIoError,               // a file-system call failed
  kWalCorrupt,            // a record or segment failed its checks
  kWalLockFailed,         // another process holds the WAL
  kWalClosed,             // the WAL was used after close()
  kWalStopped,            // a failed fsync/write stopped the WAL; it refuses writes
  kDiskPressureCritical,  // the WAL reached WAL_MAX_BYTES
  kDiskFull,              // free space on the file system is below the stop mark
  kCheckpointVerifyFailed,
  kStorageNotFound,
  kStorageAccessDenied,
  kStorageBadCredentials,
  kStorageThrottled,
  kStorageNetwork,
  kStorageServerError,
  kStorageIntegrity,
  kStorageUnavailable,         // the circuit breaker is open
  kStoragePreconditionFailed,  // a conditional write lost (If-None-Match / If-Match)
  kStorageRejected,            // the store refused the request itself (other 4xx)
  kGitError,
  kGitConflict,
  kTimeout,
  kInternal,
  kSnapshotInvalid,  // a state snapshot archive is malformed, altered or not ours to read
  kManifestInvalid,  // a remote manifest does not parse, fails its checksum or its rules
  kLineageConflict,  // the remote prefix belongs to another lineage or was written by someone else
  kRecoveryFailed,   // recovery could not produce a complete, verified data directory
  kRecoveryLoop,     // too many failed recoveries in the loop window
  kRecoveryOutOfRange,  // a point-in-time target outside what any source can restore
  kFormatUnsupported,   // data on disk or in a remote is in a format newer than this build reads
};

// "WAL_CORRUPT", "DISK_PRESSURE_CRITICAL", ... as shown to users and in JSON.
std::string_view error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message);
  ErrorCode code() const noexcept { return code_; }
  std::string_view code_name() const noexcept { return error_code_name(code_); }

 private:
  ErrorCode code_;
};

// Builds an kIoError message from errno: "<what> <path>: <strerror>".
[[noreturn]] void throw_errno(std::string_view what, std::string_view path, int err);

}  // namespace strata
