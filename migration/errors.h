// File: migration/errors.h
//
// The texts QEMU 7.2 prints while loading a migration stream (error_report/warn_report in
// savevm.c, ram.c, vmstate.c, global_state.c, physmem.c, qapi-util.c, migration.c), byte for byte,
// as absl::StrFormat formats. They are interface facts: tests compare them with what the real
// binary prints (tests/unit/migration/testdata/qemu72_load_errors.json). Texts that are migemu's
// own (no QEMU equivalent) are grouped at the end and say so.
#ifndef MIGEMU_MIGRATION_ERRORS_H_
#define MIGEMU_MIGRATION_ERRORS_H_

namespace migemu::migration {

// ---- qemu_loadvm_state / header (savevm.c) ---------------------------------------------------
inline constexpr char kErrNotAMigrationStream[] = "Not a migration stream";
inline constexpr char kErrV2Obsolete[] = "SaveVM v2 format is obsolete and don't work anymore";
inline constexpr char kErrUnsupportedVersion[] = "Unsupported migration stream version";
inline constexpr char kErrConfigurationMissing[] = "Configuration section missing";
inline constexpr char kErrMachineType[] = "Machine type received is '%s' and local is '%s'";
inline constexpr char kErrTargetPageBits[] = "Received TARGET_PAGE_BITS is %d but local is %d";
inline constexpr char kErrCapabilityMismatch[] =
    "Capability %s is %s, but received capability is %s";
inline constexpr char kErrUnknownCapability[] = "Received unknown capability %s";
inline constexpr char kErrUuidMismatch[] = "UUID received is %s and local is %s";
inline constexpr char kWarnUuidNotSet[] = "UUID is received %s, but local uuid isn't set";
inline constexpr char kErrExpectedVmDescription[] = "Expected vmdescription section, but got %d";
inline constexpr char kErrLoadFailed[] = "load of migration failed: %s";

// ---- Section loop (savevm.c) -----------------------------------------------------------------
inline constexpr char kErrUnknownSectionType[] = "Unknown savevm section type %d";
inline constexpr char kErrReadIdString[] = "Unable to read ID string for section %u";
inline constexpr char kErrReadInstanceVersion[] =
    "qemu_loadvm_section_start_full: Failed to read instance/version ID: %d";
inline constexpr char kErrUnknownSectionOrInstance[] =
    "Unknown savevm section or instance '%s' %u. Make sure that your current VM setup matches "
    "your saved VM setup, including any hotplugged devices";
inline constexpr char kErrUnsupportedSectionVersion[] =
    "savevm: unsupported version %d for '%s' v%d";
inline constexpr char kErrLoadingInstance[] =
    "error while loading state for instance 0x%x of device '%s'";
inline constexpr char kErrReadSectionId[] =
    "qemu_loadvm_section_part_end: Failed to read section ID: %d";
inline constexpr char kErrUnknownSection[] = "Unknown savevm section %d";
inline constexpr char kErrLoadingSectionId[] = "error while loading state section id %d(%s)";
inline constexpr char kErrReadFooter[] = "check_section_footer: Read section footer failed: %d";
inline constexpr char kErrMissingFooter[] = "Missing section footer for %s";
inline constexpr char kErrMismatchedFooter[] =
    "Mismatched section id in footer for %s - read 0x%x expected 0x%x";

// ---- Commands (savevm.c) ---------------------------------------------------------------------
inline constexpr char kErrCmdUnknown[] = "MIG_CMD 0x%x unknown (len 0x%x)";
inline constexpr char kErrCmdBadLength[] = "%s received with bad length - expecting %u, got %d";
inline constexpr char kErrRpAlreadyOpen[] = "CMD_OPEN_RETURN_PATH called when RP already open";
inline constexpr char kErrRpOpenFailed[] = "CMD_OPEN_RETURN_PATH failed";
inline constexpr char kErrPingNoReturnPath[] = "CMD_PING (0x%x) received with no return path";
inline constexpr char kErrAdviseWrongState[] = "CMD_POSTCOPY_ADVISE in wrong postcopy state (%d)";
inline constexpr char kErrAdviseEnabledZero[] = "RAM postcopy is enabled but have 0 byte advise";
inline constexpr char kErrAdviseDisabled16[] = "RAM postcopy is disabled but have 16 byte advise";
inline constexpr char kErrAdviseLength[] = "CMD_POSTCOPY_ADVISE invalid length (%d)";
inline constexpr char kErrListenWrongState[] = "CMD_POSTCOPY_LISTEN in wrong postcopy state (%d)";
inline constexpr char kErrRunWrongState[] = "CMD_POSTCOPY_RUN in wrong postcopy state (%d)";
inline constexpr char kErrDiscardWrongState[] =
    "CMD_POSTCOPY_RAM_DISCARD in wrong postcopy state (%d)";
inline constexpr char kErrIllegalResume[] =
    "loadvm_postcopy_handle_resume: illegal resume received";
inline constexpr char kErrRecvBitmapName[] = "loadvm_handle_recv_bitmap: failed to read block name";
inline constexpr char kErrRecvBitmapLength[] =
    "loadvm_handle_recv_bitmap: invalid payload length (%d)";
inline constexpr char kErrRecvBitmapBlock[] = "loadvm_handle_recv_bitmap: block '%s' not found";

// ---- vmstate.c ---------------------------------------------------------------------------------
inline constexpr char kErrVmsdTooNew[] =
    "%s: incoming version_id %d is too new for local version_id %d";
inline constexpr char kErrVmsdTooOld[] =
    "%s: incoming version_id %d is too old for local minimum version_id  %d";
inline constexpr char kErrFailedToLoadField[] = "Failed to load %s:%s";

// ---- ram.c / physmem.c -----------------------------------------------------------------------
inline constexpr char kErrUnknownRamblock[] = "Unknown ramblock \"%s\", cannot accept migration";
inline constexpr char kErrSizeMismatch[] = "Size mismatch: %s: 0x%x != 0x%x: Invalid argument";
inline constexpr char kErrAckBadStream[] = "Ack, bad migration stream!";
inline constexpr char kErrCantFindBlock[] = "Can't find block %s";
inline constexpr char kErrIllegalRamOffset[] = "Illegal RAM offset %x";
inline constexpr char kErrUnknownFlags[] = "Unknown combination of migration flags: 0x%x";
inline constexpr char kErrUnexpectedCompressedPage[] = "Received an unexpected compressed page";
inline constexpr char kErrInvalidCompressedLength[] = "Invalid compressed data length: %d";
inline constexpr char kErrDecompressFailed[] = "decompress data failed";
inline constexpr char kErrXbzrleWrongCompression[] =
    "Failed to load XBZRLE page - wrong compression!";
inline constexpr char kErrXbzrleLenOverflow[] = "Failed to load XBZRLE page - len overflow!";
inline constexpr char kErrXbzrleDecode[] = "Failed to load XBZRLE page - decode error!";
inline constexpr char kErrXbzrleAt[] = "Failed to decompress XBZRLE page at %x";

// ---- global_state.c / qapi-util.c ------------------------------------------------------------
inline constexpr char kErrInvalidParameterValue[] = "invalid parameter value: %s";

// ---- migemu's own texts (no QEMU equivalent) -------------------------------------------------
inline constexpr char kErrStreamEof[] = "Unexpected end of migration stream";
inline constexpr char kErrPostcopyUnsupported[] =
    "%s: postcopy and COLO commands are not supported by migemu";
inline constexpr char kErrPackagedUnsupported[] =
    "CMD_PACKAGED: packaged streams (postcopy) are not supported by migemu";

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_ERRORS_H_
