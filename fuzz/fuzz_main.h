// The body every libFuzzer target of fuzz/ shares: run the property, abort
// with its description when it is violated (libFuzzer then keeps the input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define STRATA_FUZZ_TARGET(check)                                           \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    const std::string problem =                                             \
        check(std::string_view(reinterpret_cast<const char*>(data), size)); \
    if (!problem.empty()) {                                                 \
      std::fprintf(stderr, "property violated: %s\n", problem.c_str());     \
      std::abort();                                                         \
    }                                                                       \
    return 0;                                                               \
  }
