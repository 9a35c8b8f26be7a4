// libFuzzer target: check_http_fast (properties.h says what it checks).
// Built by the STRATA_FUZZ option (fuzz/CMakeLists.txt); run by hand with
// fuzz/run.sh.
#include "fuzz_main.h"
#include "properties.h"

STRATA_FUZZ_TARGET(strata::fuzz::check_http_fast)
