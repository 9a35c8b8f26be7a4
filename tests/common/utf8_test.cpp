// is_valid_utf8: the one validator behind the CLI's "data" vs "data_b64"
// choice and the storage key rules.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "strata/utf8.h"

namespace strata {
namespace {

// The UTF-8 encoding of cp, without any check: also makes surrogates and
// values past U+10FFFF, so the validator has something to refuse.
std::string encode(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

TEST(Utf8, AsciiAndEmptyAreValid) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("wal/segment-000001.log"));
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b\x1f\x7f", 5)));  // controls are UTF-8
}

TEST(Utf8, ValidMultiByteSequences) {
  EXPECT_TRUE(is_valid_utf8("\xC3\xA9"));          // U+00E9 é
  EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));      // U+20AC €
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));  // U+1F600
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9/\xE6\x97\xA5\xE6\x9C\xAC/\xF0\x9F\x98\x80.txt"));
  // The edges of each length, and the code points around the surrogates.
  for (uint32_t cp :
       {0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFDu, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    EXPECT_TRUE(is_valid_utf8(encode(cp))) << std::hex << cp;
    EXPECT_TRUE(is_valid_utf8("x" + encode(cp) + "y")) << std::hex << cp;
  }
}

TEST(Utf8, EveryScalarValueIsValidAndOnlyThose) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    ASSERT_EQ(is_valid_utf8(encode(cp)), !surrogate) << std::hex << cp;
  }
}

TEST(Utf8, RejectsOverlongForms) {
  EXPECT_FALSE(is_valid_utf8("\xC0\x80"));              // NUL in two bytes
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));              // '/' in two bytes
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));              // U+007F in two bytes
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));          // '/' in three bytes
  EXPECT_FALSE(is_valid_utf8("\xE0\x9F\xBF"));          // U+07FF in three bytes
  EXPECT_FALSE(is_valid_utf8("\xF0\x80\x80\xAF"));      // '/' in four bytes
  EXPECT_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));      // U+FFFF in four bytes
  EXPECT_FALSE(is_valid_utf8("ok\xC0\xAE\xC0\xAE/x"));  // "../" smuggled in
}

TEST(Utf8, RejectsSurrogates) {
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));  // U+D800
  EXPECT_FALSE(is_valid_utf8("\xED\xAF\xBF"));  // U+DBFF
  EXPECT_FALSE(is_valid_utf8("\xED\xB0\x80"));  // U+DC00
  EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));  // U+DFFF
  // A CESU-8 style pair for U+1F600 is two surrogates, not UTF-8.
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\xBD\xED\xB8\x80"));
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));  // U+D7FF, just below
}

TEST(Utf8, RejectsValuesPastU10FFFF) {
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));          // U+110000
  EXPECT_FALSE(is_valid_utf8("\xF7\xBF\xBF\xBF"));          // U+1FFFFF
  EXPECT_FALSE(is_valid_utf8("\xF8\x88\x80\x80\x80"));      // old five-byte form
  EXPECT_FALSE(is_valid_utf8("\xFC\x84\x80\x80\x80\x80"));  // old six-byte form
  EXPECT_FALSE(is_valid_utf8("\xFE"));
  EXPECT_FALSE(is_valid_utf8("\xFF"));
}

TEST(Utf8, RejectsTruncatedSequences) {
  EXPECT_FALSE(is_valid_utf8("\xC3"));
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));
  EXPECT_FALSE(is_valid_utf8("abc\xF0"));
  // Cut short by the next character rather than by the end.
  EXPECT_FALSE(is_valid_utf8("\xC3x"));
  EXPECT_FALSE(is_valid_utf8("\xE2\x82x"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98x"));
  EXPECT_FALSE(is_valid_utf8("\xE2\xC3\xA9"));  // a new lead where a continuation belongs
  // Every proper prefix of a valid sequence is invalid; the whole is valid.
  const std::string full = "\xF0\x9F\x98\x80";
  for (size_t n = 1; n < full.size(); ++n) {
    EXPECT_FALSE(is_valid_utf8(full.substr(0, n))) << n;
    EXPECT_FALSE(is_valid_utf8("a" + full.substr(0, n) + "b")) << n;
  }
}

TEST(Utf8, RejectsStrayContinuationBytes) {
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xBF"));
  EXPECT_FALSE(
      is_valid_utf8("a\x80"
                    "b"));
  EXPECT_FALSE(is_valid_utf8("\xC3\xA9\xA9"));          // one continuation too many
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98\x80\x80"));  // after a complete four-byte form
  for (int b = 0x80; b <= 0xBF; ++b) {
    EXPECT_FALSE(is_valid_utf8(std::string(1, static_cast<char>(b)))) << b;
  }
}

// The CLI prints data as a JSON string when this says UTF-8, and nlohmann's
// dump throws on invalid UTF-8: the two must agree, here on every string of
// one or two bytes.
TEST(Utf8, AgreesWithNlohmannOnAllShortStrings) {
  auto json_accepts = [](const std::string& s) {
    try {
      (void)nlohmann::json(s).dump();
      return true;
    } catch (const nlohmann::json::type_error&) {
      return false;
    }
  };
  for (int a = 0; a < 256; ++a) {
    std::string one(1, static_cast<char>(a));
    ASSERT_EQ(is_valid_utf8(one), json_accepts(one)) << a;
    for (int b = 0; b < 256; ++b) {
      std::string two = one + static_cast<char>(b);
      ASSERT_EQ(is_valid_utf8(two), json_accepts(two)) << a << " " << b;
    }
  }
}

// ---- escape_for_display: the one escaping of everything strata prints

TEST(EscapeForDisplay, KeepsPrintableTextIncludingUtf8) {
  EXPECT_EQ(escape_for_display("plain/path-1.txt"), "plain/path-1.txt");
  EXPECT_EQ(escape_for_display("caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x98\x80");
  EXPECT_EQ(escape_for_display(""), "");
  EXPECT_EQ(escape_for_display("back\\slash"), "back\\slash");
}

TEST(EscapeForDisplay, EscapesControlCharacters) {
  EXPECT_EQ(escape_for_display("a\x1b[31mred"), "a\\x1b[31mred");
  EXPECT_EQ(escape_for_display("line\nbreak\ttab\r"), "line\\x0abreak\\x09tab\\x0d");
  EXPECT_EQ(escape_for_display(std::string("nul\0end", 7)), "nul\\x00end");
  EXPECT_EQ(escape_for_display("del\x7f"), "del\\x7f");
  // C1 controls, encoded as UTF-8 (U+009B is CSI).
  EXPECT_EQ(escape_for_display("\xc2\x9b"
                               "31m"),
            "\\x9b31m");
}

TEST(EscapeForDisplay, EscapesBytesThatAreNotUtf8) {
  // A raw 0x9b is a CSI to terminals in 8-bit mode.
  EXPECT_EQ(escape_for_display("\x9b"
                               "31m"),
            "\\x9b31m");
  EXPECT_EQ(escape_for_display("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(escape_for_display("trunc\xe6\x97"), "trunc\\xe6\\x97");
}

TEST(EscapeForDisplay, EscapesBidiAndLineSeparators) {
  EXPECT_EQ(escape_for_display("abc\xe2\x80\xae"
                               "evil"),
            "abc\\u{202e}evil");                                 // RLO
  EXPECT_EQ(escape_for_display("\xe2\x81\xa6x"), "\\u{2066}x");  // LRI
  EXPECT_EQ(escape_for_display("a\xe2\x80\xa8"
                               "b"),
            "a\\u{2028}b");
}

TEST(EscapeForDisplay, IsIdempotentAndLeavesNoControlByte) {
  for (int c = 0; c < 256; ++c) {
    const std::string in = "x" + std::string(1, static_cast<char>(c)) + "y";
    const std::string once = escape_for_display(in);
    EXPECT_EQ(escape_for_display(once), once) << c;
    EXPECT_TRUE(is_valid_utf8(once)) << c;
    for (unsigned char b : once) EXPECT_FALSE(b < 0x20 || b == 0x7f) << c;
  }
}

}  // namespace
}  // namespace strata
