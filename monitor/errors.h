// File: monitor/errors.h
//
// The monitor's user-visible error texts. They are interface facts (QMP "desc" strings of QEMU
// 7.2): tests compare them byte for byte, so they are spelled once, here. Texts with a
// substitution are built by the functions below; the QEMU format string is quoted next to each.
#ifndef MIGEMU_MONITOR_ERRORS_H_
#define MIGEMU_MONITOR_ERRORS_H_

#include <absl/strings/string_view.h>

#include <string>

namespace migemu::monitor {

// qobject/json-streamer.c: the limits on one top-level JSON value.
inline constexpr absl::string_view kJsonTokenSizeLimitExceeded = "JSON token size limit exceeded";
inline constexpr absl::string_view kJsonTokenCountLimitExceeded = "JSON token count limit exceeded";
inline constexpr absl::string_view kJsonNestingLimitExceeded = "JSON nesting depth limit exceeded";

// qobject/json-parser.c: parse_error() prefixes every message with "JSON parse error, ".
inline constexpr absl::string_view kJsonExpectingValue = "JSON parse error, expecting value";
inline constexpr absl::string_view kJsonMissingColon = "JSON parse error, missing : in object pair";
inline constexpr absl::string_view kJsonKeyNotString =
    "JSON parse error, key is not a string in object";
inline constexpr absl::string_view kJsonDuplicateKey = "JSON parse error, duplicate key";
inline constexpr absl::string_view kJsonExpectedSeparatorInDict =
    "JSON parse error, expected separator in dict";
inline constexpr absl::string_view kJsonExpectedSeparatorInList =
    "JSON parse error, expected separator in list";
inline constexpr absl::string_view kJsonInvalidEscape =
    "JSON parse error, invalid escape sequence in string";
inline constexpr absl::string_view kJsonInvalidUtf8 =
    "JSON parse error, invalid UTF-8 sequence in string";
inline constexpr absl::string_view kJsonPrematureEoi = "JSON parse error, premature EOI";

// qobject/qjson.c (qobject_from_json()): one-shot parsing of a string.
inline constexpr absl::string_view kJsonExpectingAValue = "Expecting a JSON value";
inline constexpr absl::string_view kJsonExpectingAtMostOneValue =
    "Expecting at most one JSON value";

// JsonStrayError: "JSON parse error, stray '%s'" (json-streamer.c). Like QEMU's %s, the token
// text is cut at its first NUL byte; other bytes are kept as they are (even invalid UTF-8).
std::string JsonStrayError(absl::string_view token);

// JsonInvalidKeywordError: "JSON parse error, invalid keyword '%s'".
std::string JsonInvalidKeywordError(absl::string_view keyword);

// JsonInvalidUnicodeError: "JSON parse error, %.*s is not a valid Unicode character", where the
// text is the escape as written (\uXXXX, or \uXXXX\uXXXX for a surrogate pair).
std::string JsonInvalidUnicodeError(absl::string_view escape);

// monitor/hmp.c, monitor/hmp-cmds.c, migration/dirtyrate.c: the human monitor's own texts
// (each printed with a line end). Texts with a substitution are built where used; the QEMU
// format strings are quoted there.
// "QEMU %s monitor - type 'help' for more information" (CHR_EVENT_OPENED), with QEMU_VERSION.
std::string HmpBanner(absl::string_view qemu_version);
inline constexpr absl::string_view kHmpPrompt = "(qemu) ";
inline constexpr absl::string_view kHmpNoSyncMigration =
    "terminal does not allow synchronous migration, continuing detached";
inline constexpr absl::string_view kHmpInvalidParameterValue = "invalid parameter value: ";
inline constexpr absl::string_view kHmpBitmapMappingOnlyQmp =
    "The block-bitmap-mapping parameter can only be set through QMP";
inline constexpr absl::string_view kHmpBadPeriod = "Incorrect period length specified!";
inline constexpr absl::string_view kHmpRingOrBitmap =
    "Either dirty ring or dirty bitmap can be specified!";

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_ERRORS_H_
