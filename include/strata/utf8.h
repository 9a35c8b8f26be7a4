// UTF-8: well-formedness, as the CLI's JSON output and the storage key rules
// need it, and the one escaping applied to every name or message strata
// prints to a terminal or a log.
#pragma once

#include <string>
#include <string_view>

namespace strata {

// True when s is well-formed UTF-8 (RFC 3629): no overlong forms, no
// surrogates (U+D800..U+DFFF), nothing past U+10FFFF, no truncated sequence
// and no stray continuation byte. ASCII control characters, NUL included,
// are valid UTF-8; callers that refuse them check that themselves.
bool is_valid_utf8(std::string_view s);

// s made safe to show: C0/C1 control characters and DEL become \xNN, bytes
// that are not well-formed UTF-8 become \xNN (a raw 0x9b is a CSI to some
// terminals), and the line separators and bidirectional controls that
// reorder what a reader sees become \u{NNNN}. Everything else, printable
// UTF-8 included, is kept. Backslashes are not doubled, so escaping is
// idempotent: a message built from escaped names can be escaped again at the
// point of printing without changing.
std::string escape_for_display(std::string_view s);

}  // namespace strata
