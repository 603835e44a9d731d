// File: monitor/internal/mod_utf8.h
//
// QEMU's "modified UTF-8" rules (util/unicode.c), shared by the JSON parser and the JSON writer.
// Modified UTF-8 is UTF-8 in which U+0000 is encoded as the two bytes C0 80, so a string never
// contains a NUL byte. A code point is valid when it is in U+0000..U+10FFFF and is neither a
// surrogate (U+D800..U+DFFF) nor one of Unicode's 66 noncharacters (U+FDD0..U+FDEF and every
// U+xxFFFE/U+xxFFFF).
#ifndef MIGEMU_MONITOR_INTERNAL_MOD_UTF8_H_
#define MIGEMU_MONITOR_INTERNAL_MOD_UTF8_H_

#include <absl/strings/string_view.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace migemu::monitor::internal {

// IsValidCodepoint: in range, not a surrogate, not a noncharacter.
bool IsValidCodepoint(int32_t cp);

// DecodedCodepoint: what ModUtf8Decode found at the start of its input.
struct DecodedCodepoint {
  int32_t cp;     // the code point, or -1 when the sequence is invalid
  size_t length;  // bytes the sequence spans (see ModUtf8Decode); 0 only for empty input
};

// ModUtf8Decode: decodes the sequence at the start of `s` (at most 6 bytes are looked at).
// Mirrors mod_utf8_codepoint(): a lone continuation byte or 0xFE/0xFF spans 1 byte and is
// invalid; a lead byte followed by too few continuation bytes spans the lead plus the
// continuation bytes present and is invalid; a complete sequence spans its full length and is
// invalid if overlong (except C0 80, which is U+0000) or not a valid code point. 5- and 6-byte
// sequences are complete but always invalid (beyond U+10FFFF). An empty `s` gives {-1, 0}.
// Unlike QEMU's C-string version, a 0x00 byte is simply U+0000 (1 byte); QEMU strings never
// contain one.
DecodedCodepoint ModUtf8Decode(absl::string_view s);

// AppendModUtf8: appends the modified UTF-8 encoding of `cp` (U+0000 as C0 80). Returns false and
// appends nothing when `cp` is not a valid code point (mod_utf8_encode() returning -1).
[[nodiscard]] bool AppendModUtf8(int32_t cp, std::string* out);

}  // namespace migemu::monitor::internal

#endif  // MIGEMU_MONITOR_INTERNAL_MOD_UTF8_H_
