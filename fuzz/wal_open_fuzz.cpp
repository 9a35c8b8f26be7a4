// libFuzzer target: check_wal_open (properties.h): the fuzzer's bytes
// overwrite part of a valid segment. Built by the STRATA_FUZZ option
// (fuzz/CMakeLists.txt); run by hand with fuzz/run.sh.
#include "fuzz_main.h"
#include "properties.h"

STRATA_FUZZ_TARGET(strata::fuzz::check_wal_open)
