// The code of the strata::Error a call throws, for tests of every layer.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "strata/error.h"

namespace strata::testing {

// The code of the strata::Error f throws (a test failure if it throws none);
// its message goes to *message when given.
template <typename F>
ErrorCode code_of(F f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "no strata::Error thrown";
  return ErrorCode::kInternal;
}

}  // namespace strata::testing
