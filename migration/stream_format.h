// File: migration/stream_format.h
//
// The numbers of QEMU 7.2's main migration stream (savevm.h, ram.c, qemu-file.h), as named
// constants. They are interface facts: the bytes real QEMU writes and accepts. The layout is
// described in docs/stream.md; nothing here has behaviour.
//
//   w.PutBe32(kFileMagic);
//   w.PutByte(kVmSectionStart);
//   w.PutBe64(offset | kRamSaveFlagPage | kRamSaveFlagContinue);
#ifndef MIGEMU_MIGRATION_STREAM_FORMAT_H_
#define MIGEMU_MIGRATION_STREAM_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace migemu::migration {

// ---- File header -----------------------------------------------------------------------------
inline constexpr uint32_t kFileMagic = 0x5145564d;  // "QEVM"
inline constexpr uint32_t kFileVersionCompat = 0x00000002;
inline constexpr uint32_t kFileVersion = 0x00000003;

// ---- Section type bytes ----------------------------------------------------------------------
inline constexpr uint8_t kVmEof = 0x00;
inline constexpr uint8_t kVmSectionStart = 0x01;
inline constexpr uint8_t kVmSectionPart = 0x02;
inline constexpr uint8_t kVmSectionEnd = 0x03;
inline constexpr uint8_t kVmSectionFull = 0x04;
inline constexpr uint8_t kVmSubsection = 0x05;
inline constexpr uint8_t kVmVmDescription = 0x06;
inline constexpr uint8_t kVmConfiguration = 0x07;
inline constexpr uint8_t kVmCommand = 0x08;
inline constexpr uint8_t kVmSectionFooter = 0x7e;

// ---- QEMU_VM_COMMAND numbers (enum qemu_vm_cmd) ----------------------------------------------
enum class MigCmd : uint16_t {
  kInvalid = 0,
  kOpenReturnPath = 1,
  kPing = 2,
  kPostcopyAdvise = 3,
  kPostcopyListen = 4,
  kPostcopyRun = 5,
  kPostcopyRamDiscard = 6,
  kPackaged = 7,
  kEnableColo = 8,
  kPostcopyResume = 9,
  kRecvBitmap = 10,
  kMax = 11,
};

// ---- The `ram` section record flags (low bits of each be64 record word) ----------------------
inline constexpr uint64_t kRamSaveFlagFull = 0x01;  // obsolete, rejected
inline constexpr uint64_t kRamSaveFlagZero = 0x02;
inline constexpr uint64_t kRamSaveFlagMemSize = 0x04;
inline constexpr uint64_t kRamSaveFlagPage = 0x08;
inline constexpr uint64_t kRamSaveFlagEos = 0x10;
inline constexpr uint64_t kRamSaveFlagContinue = 0x20;
inline constexpr uint64_t kRamSaveFlagXbzrle = 0x40;
inline constexpr uint64_t kRamSaveFlagHook = 0x80;  // RDMA only
inline constexpr uint64_t kRamSaveFlagCompressPage = 0x100;
// RAM_SAVE_FLAG_MULTIFD_FLUSH appeared in QEMU 8.0; 7.2 rejects it as an unknown combination.
inline constexpr uint64_t kRamSaveFlagMultifdFlush8 = 0x200;

// First byte of an XBZRLE page payload.
inline constexpr uint8_t kEncodingFlagXbzrle = 0x01;

// x86_64 TARGET_PAGE_BITS / TARGET_PAGE_SIZE; record words carry flags below the page size.
inline constexpr int kTargetPageBits = 12;
inline constexpr uint64_t kTargetPageSize = uint64_t{1} << kTargetPageBits;
inline constexpr uint64_t kTargetPageMask = ~(kTargetPageSize - 1);

// zlib's compressBound(TARGET_PAGE_SIZE): the largest COMPRESS_PAGE payload QEMU accepts.
inline constexpr int64_t kCompressBoundPage =
    int64_t{kTargetPageSize} + int64_t{kTargetPageSize >> 12} + int64_t{kTargetPageSize >> 14} +
    int64_t{kTargetPageSize >> 25} + 13;

// ---- Section identities (SaveStateEntry idstr / instance / version) --------------------------
inline constexpr char kRamIdstr[] = "ram";
inline constexpr uint32_t kRamVersion = 4;
inline constexpr char kTimerIdstr[] = "timer";
inline constexpr uint32_t kTimerVersion = 2;
inline constexpr uint32_t kTimerMinimumVersion = 1;
inline constexpr char kGlobalStateIdstr[] = "globalstate";
inline constexpr uint32_t kGlobalStateVersion = 1;
inline constexpr size_t kGlobalStateRunstateSize = 100;  // GlobalState.runstate[100]

// Section ids QEMU 7.2 gives these handlers for machine `none` (its registration order). A
// receiver must not rely on them; a sender may use them to look exactly like QEMU.
inline constexpr uint32_t kQemuSectionIdTimer = 0;
inline constexpr uint32_t kQemuSectionIdRam = 2;
inline constexpr uint32_t kQemuSectionIdGlobalState = 4;

// ---- Buffering (qemu-file.c) -----------------------------------------------------------------
inline constexpr size_t kQemuFileBufferSize = 32768;  // IO_BUF_SIZE

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_STREAM_FORMAT_H_
