// File: migration/multifd/errors.h
//
// Texts of the multifd engine. Those QEMU 7.2 prints (migration/multifd.c, multifd-zlib.c,
// multifd-zstd.c, migration.c) are interface facts, copied byte for byte as absl::StrFormat
// formats, including QEMU's oddities (the misleading "channel version" text for a bad channel
// id, the stray quote of "already setup'"). Texts of our own come last and say so.
#ifndef MIGEMU_MIGRATION_MULTIFD_ERRORS_H_
#define MIGEMU_MIGRATION_MULTIFD_ERRORS_H_

namespace migemu::migration {

// ---- multifd_recv_initial_packet / multifd_recv_new_channel (multifd.c) --------------------
inline constexpr char kFmtInitMagic[] = "multifd: received packet magic %x expected %x";
inline constexpr char kFmtInitVersion[] = "multifd: received packet version %u expected %u";
inline constexpr char kFmtInitUuid[] =
    "multifd: received uuid '%s' and expected uuid '%s' for channel %hhd";
// Sic: QEMU reports a bad channel id with the version numbers.
inline constexpr char kFmtInitChannelId[] = "multifd: received channel version %u expected %u";
// Prefix QEMU adds to every init-packet error; %d = channels set up so far.
inline constexpr char kFmtInitPrefix[] = "failed to receive packet via multifd channel %d: ";
// Sic: the trailing quote is QEMU's.
inline constexpr char kFmtIdAlreadySetup[] = "multifd: received id '%d' already setup'";

// ---- multifd_recv_unfill_packet (multifd.c) ------------------------------------------------
inline constexpr char kFmtPacketMagic[] = "multifd: received packet magic %x and expected magic %x";
inline constexpr char kFmtPacketVersion[] =
    "multifd: received packet version %u and expected version %u";
inline constexpr char kFmtPacketSize[] =
    "multifd: received packet with size %u and expected a size of %u";
inline constexpr char kFmtPacketPages[] =
    "multifd: received packet with %u pages and expected maximum pages are %u";
inline constexpr char kFmtUnknownBlock[] = "multifd: unknown ram block %s";
inline constexpr char kFmtOffsetTooLong[] = "multifd: offset too long %u (max %x)";

// ---- recv_pages of each method (multifd.c, multifd-zlib.c, multifd-zstd.c) -----------------
inline constexpr char kFmtFlags[] = "multifd %u: flags received %x flags expected %x";
inline constexpr char kFmtPacketSizeReceived[] =
    "multifd %u: packet size received %u size expected %u";
inline constexpr char kFmtInflateInit[] = "multifd %u: inflate init failed";
inline constexpr char kFmtInflateTooFew[] = "multifd %u: inflate generated too few output";
inline constexpr char kFmtInflateReturned[] = "multifd %u: inflate returned %d instead of Z_OK";
inline constexpr char kFmtCreateDStream[] = "multifd %u: zstd createDStream failed";
inline constexpr char kFmtInitDStream[] = "multifd %u: initDStream failed with error %s";
inline constexpr char kFmtDecompressTooSmall[] = "multifd %u: decompressStream buffer too small";
inline constexpr char kFmtDecompressReturned[] = "multifd %u: decompressStream returned %s";

// ---- send side (multifd-zlib.c, multifd-zstd.c, multifd.c) ---------------------------------
inline constexpr char kFmtDeflateInit[] = "multifd %u: deflate init failed";
inline constexpr char kFmtDeflateAllInput[] = "multifd %u: deflate failed to compress all input";
inline constexpr char kFmtDeflateReturned[] = "multifd %u: deflate returned %d instead of Z_OK";
inline constexpr char kFmtCreateCStream[] = "multifd %u: zstd createCStream failed";
inline constexpr char kFmtInitCStream[] = "multifd %u: initCStream failed with error %s";
inline constexpr char kFmtCompressTooSmall[] = "multifd %u: compressStream buffer too small";
inline constexpr char kFmtCompressError[] = "multifd %u: compressStream error %s";

// ---- migration.c / options: zero copy ------------------------------------------------------
inline constexpr char kErrZeroCopyCompression[] =
    "Zero copy only available for non-compressed non-TLS multifd migration";

// ---- migemu's own texts (QEMU has no equivalent) ------------------------------------------
// A compressed payload larger than the receive buffer (QEMU would overflow its 1 MiB buffer).
inline constexpr char kFmtPayloadTooLarge[] =
    "multifd %u: compressed packet of %u bytes exceeds the maximum of %u";
// A channel ended (EOF) while the destination still waited for its SYNC (QEMU waits forever).
inline constexpr char kFmtChannelEndedBeforeSync[] =
    "multifd: channel %d was closed before its sync";
// Use of the engine after Shutdown() (migrate_cancel or cleanup) without a channel error.
inline constexpr char kErrSenderShutDown[] = "multifd: send channels were shut down";
inline constexpr char kErrReceiverShutDown[] = "multifd: receive channels were shut down";
inline constexpr char kErrNotStarted[] = "multifd: sender not started";
inline constexpr char kErrAlreadyStarted[] = "multifd: sender already started";
inline constexpr char kFmtBadChannels[] = "multifd: channel count %d out of range 1..255";
inline constexpr char kFmtBadZlibLevel[] = "multifd: zlib level %d out of range 0..9";
inline constexpr char kFmtBadZstdLevel[] = "multifd: zstd level %d out of range 0..20";
// A connection beyond multifd-channels (QEMU logs "Extra incoming migration connection;
// ignoring" at the listener and drops it, as the receiver does).
inline constexpr char kErrExtraChannel[] =
    "socket_accept_incoming_migration: Extra incoming migration connection; ignoring";

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_MULTIFD_ERRORS_H_
