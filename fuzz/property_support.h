// What the properties share: classifying a refusal, and a scratch directory
// per process on tmpfs (the properties are about parsing, not durability, so
// a real disk's fsyncs would only slow the runs).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "strata/error.h"

namespace strata::fuzz {

// "" when e is one of the allowed codes and has a message, else what is wrong.
std::string check_refusal(const Error& e, std::initializer_list<ErrorCode> allowed);

// A directory for this process's scratch files (made on first use, under
// /dev/shm when writable, else TMPDIR or /tmp), removed at exit.
const std::string& scratch_dir();

// True when s is valid UTF-8 (the project's check, strata/utf8.h).
bool valid_utf8(std::string_view s);

}  // namespace strata::fuzz
