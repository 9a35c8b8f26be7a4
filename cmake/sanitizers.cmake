# STRATA_SANITIZE: build every target (libraries, the CLI, the tests) with a
# sanitizer. scripts/test.sh uses both kinds in their own build directories;
# docs/testing.md shows how to run them by hand.
#   address  AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer;
#            undefined behaviour aborts (-fno-sanitize-recover) instead of
#            printing and carrying on, so no report can pass unnoticed.
#   thread   ThreadSanitizer (cannot be combined with address).
#   (empty)  no sanitizer, the default.
set(STRATA_SANITIZE "" CACHE STRING "Sanitizer for every target: address, thread or empty")
set_property(CACHE STRATA_SANITIZE PROPERTY STRINGS "" address thread)

if(STRATA_SANITIZE STREQUAL "address")
  set(strata_sanitize_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined)
elseif(STRATA_SANITIZE STREQUAL "thread")
  set(strata_sanitize_flags -fsanitize=thread)
elseif(NOT STRATA_SANITIZE STREQUAL "")
  message(FATAL_ERROR "STRATA_SANITIZE=${STRATA_SANITIZE}: use address, thread or leave it empty")
endif()

if(strata_sanitize_flags)
  # Frame pointers give the reports whole stacks at no cost worth measuring
  # in a test build.
  list(APPEND strata_sanitize_flags -fno-omit-frame-pointer)
  add_compile_options(${strata_sanitize_flags})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC's manual: sanitizers raise the rate of false -Wmaybe-uninitialized
    # warnings (here in <regex> and std::function under -Werror); the normal
    # build keeps the warning.
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
  add_link_options(${strata_sanitize_flags})
  # Benchmarks measure nothing useful under a sanitizer and only cost build
  # time. A normal variable shadows the cached option for this configure.
  if(STRATA_BUILD_BENCH)
    message(STATUS "STRATA_SANITIZE=${STRATA_SANITIZE}: benchmarks (bench/) not built")
  endif()
  set(STRATA_BUILD_BENCH OFF)
endif()
