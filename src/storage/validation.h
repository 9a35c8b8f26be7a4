// Input rules shared by the stores (validate_key is public in strata/storage.h).
#pragma once

#include <map>
#include <string>

namespace strata {

// Names [a-z0-9-]+ except the reserved "sha256"; values printable ASCII.
// Throws Error(kInvalidArgument).
void validate_metadata(const std::map<std::string, std::string>& metadata);

}  // namespace strata
