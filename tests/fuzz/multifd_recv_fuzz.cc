// Fuzz target: a multifd receiver fed one channel. The first byte picks the compression
// (none, zlib, zstd); the rest is what the channel delivers (init packet, then packets and
// their page data), into guest RAM shaped like the captures'. The main side calls SyncMain
// as the RAM loader does at every EOS, until a round fails (the input ran out before a SYNC,
// or a packet was refused); then the receiver is shut down and destroyed, joining its thread.
// Every failure must carry a text, and nothing may crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "io/buffer_channel.h"
#include "migration/multifd/receiver.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace migemu;  // NOLINT(google-build-using-namespace): a fuzz entry point
  if (size == 0) {
    return 0;
  }
  migration::MultifdConfig config;
  config.channels = 1;
  static constexpr qapi::MultiFDCompression kMethods[] = {qapi::MultiFDCompression::kNone,
                                                          qapi::MultiFDCompression::kZlib,
                                                          qapi::MultiFDCompression::kZstd};
  config.compression = kMethods[data[0] % 3];
  std::unique_ptr<io::BufferChannel> channel = io::BufferChannel::Create();
  channel->PushInput(fuzz::AsText(data + 1, size - 1));
  channel->EndInput();
  migration::MultifdReceiver receiver(config, fuzz::CaptureMemory());
  fuzz::FuzzCheck(receiver.AddChannel(std::move(channel)), "the first channel is taken");
  for (int round = 0; round < 64; ++round) {
    absl::Status s = receiver.SyncMain();
    if (!s.ok()) {
      fuzz::FuzzCheck(!s.message().empty(), "a failed sync says why");
      break;
    }
  }
  receiver.Shutdown();
  return 0;
}
