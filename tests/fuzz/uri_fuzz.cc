// Fuzz target: the address, URI and small-syntax parsers. The first byte picks the parser, the
// rest is its text: migration URIs (both directions), socket_parse() addresses, inet_parse(),
// chardev compat specs, sizes, key=value lists and UUIDs. Besides not crashing:
//  * a parsed socket address printed by SocketAddressToString parses back to an address that
//    prints the same (socket_uri() output is what query-migrate reports and QEMU re-reads),
//    unless its host is IPv6-like (see CheckAddressRoundTrip);
//  * a parsed size below 2^64 prints back to the same value.
#include <absl/strings/str_cat.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "io/socket_address.h"
#include "system/machine_config.h"
#include "tests/fuzz/fuzz_util.h"
#include "util/keyval.h"
#include "util/size.h"

namespace {

using namespace migemu;  // NOLINT(google-build-using-namespace): a fuzz entry point

void CheckAddressRoundTrip(const io::SocketAddress& addr) {
  const std::string text = io::SocketAddressToString(addr);
  if (const auto* inet = std::get_if<io::InetSocketAddress>(&addr)) {
    // socket_uri() prints "tcp:HOST:PORT" with no brackets, as QEMU does. A host holding ':'
    // (IPv6) or starting with '[' (from "[[x]:p") then reads back through the bracketed
    // IPv6 syntax, so those texts are not expected to re-parse.
    if (inet->host.find(':') != std::string::npos ||
        (!inet->host.empty() && inet->host[0] == '[')) {
      return;
    }
  }
  absl::StatusOr<io::SocketAddress> again = io::ParseSocketAddress(text);
  fuzz::FuzzCheckOk(again.status(), absl::StrCat("printed address re-parses: ", text));
  fuzz::FuzzCheck(io::SocketAddressToString(*again) == text,
                  absl::StrCat("printed address is stable: ", text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const absl::string_view text = fuzz::AsText(data + 1, size - 1);
  switch (data[0] % 9) {
    case 0:
    case 1: {
      const auto dir = data[0] % 9 == 0 ? io::UriDirection::kOutgoing : io::UriDirection::kIncoming;
      absl::StatusOr<io::MigrationUri> uri = io::ParseMigrationUri(text, dir);
      if (uri.ok()) {
        if (const auto* sock = std::get_if<io::SocketAddress>(&*uri)) {
          CheckAddressRoundTrip(*sock);
        }
      } else {
        fuzz::FuzzCheck(!uri.status().message().empty(), "a URI error has a text");
      }
      break;
    }
    case 2: {
      absl::StatusOr<io::SocketAddress> addr = io::ParseSocketAddress(text);
      if (addr.ok()) {
        CheckAddressRoundTrip(*addr);
      }
      break;
    }
    case 3:
      io::ParseInetAddress(text).status().IgnoreError();
      break;
    case 4:
      io::ParseChardevSocket(text).status().IgnoreError();
      break;
    case 5:
    case 6: {
      absl::StatusOr<uint64_t> v = util::ParseSize(text, data[0] % 9 == 5 ? 1 : uint64_t{1} << 20);
      if (v.ok() && data[0] % 9 == 5) {
        absl::StatusOr<uint64_t> again = util::ParseSize(absl::StrCat(*v));
        fuzz::FuzzCheck(again.ok() && *again == *v, "a size prints back to itself");
      }
      break;
    }
    case 7: {
      util::KeyvalList kv = util::ParseKeyval(text, "id");
      for (const auto& [key, value] : kv.items) {
        kv.GetBool(key).status().IgnoreError();
        fuzz::FuzzCheck(kv.Has(key), "every parsed key is found");
      }
      break;
    }
    default:
      system::ParseUuid(text);
      break;
  }
  return 0;
}
