// Where the command line's log lines go. A failed command prints exactly one
// line, `strata: CODE: message`, so warnings logged on the way to a failure
// are held back and dropped with it; a command that succeeds prints them when
// it ends. Every line is escaped (strata/utf8.h, escape_for_display) so a
// name from the log, a WAL or a remote cannot drive the terminal.
#pragma once

namespace strata::cli {

enum class LogMode {
  kDeferred,  // held until release_logs() or drop_logs()
  kLive,      // written to stderr at once (-v, and long-running commands)
};

// Installs the sink as spdlog's default logger (warnings and above unless
// verbose, which also writes live).
void install_log_sink(bool verbose);
void set_log_mode(LogMode mode);
// Writes the held lines to stderr (the command succeeded).
void release_logs();
// Forgets the held lines (the command failed; its one error line says why).
void drop_logs();

}  // namespace strata::cli
