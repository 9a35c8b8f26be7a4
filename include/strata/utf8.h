// UTF-8 well-formedness, as the CLI's JSON output and the storage key rules
// need it.
#pragma once

#include <string_view>

namespace strata {

// True when s is well-formed UTF-8 (RFC 3629): no overlong forms, no
// surrogates (U+D800..U+DFFF), nothing past U+10FFFF, no truncated sequence
// and no stray continuation byte. ASCII control characters, NUL included,
// are valid UTF-8; callers that refuse them check that themselves.
bool is_valid_utf8(std::string_view s);

}  // namespace strata
