// Just enough XML for S3's answers: the text of named elements in document
// order. S3 responses are flat and attribute-free where strata reads them
// (ListBucketResult, Error, InitiateMultipartUploadResult), so a full parser
// would add a dependency without adding safety.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::storage {

// Decodes &amp; &lt; &gt; &quot; &apos; and numeric references (&#NN; &#xHH;)
// into UTF-8. Unknown entities, and references to what is no XML character
// (U+0000, surrogates, beyond U+10FFFF), are kept as written.
std::string xml_unescape(std::string_view text);
std::string xml_escape(std::string_view text);

// Text of every <name>...</name> element, unescaped, in order. Elements with
// attributes (<name a="b">) match too; self-closing ones give "".
std::vector<std::string> xml_all(std::string_view xml, std::string_view name);
std::optional<std::string> xml_first(std::string_view xml, std::string_view name);

// The raw inner XML of every <name>...</name> element (for nested records
// such as <Contents>).
std::vector<std::string_view> xml_blocks(std::string_view xml, std::string_view name);

}  // namespace strata::storage
