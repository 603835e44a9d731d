// File: io/errors.h
//
// Error texts of the channel layer. They are interface facts: QEMU 7.2 shows them in QMP `desc`,
// in `query-migrate` `error-desc`, on stderr and in HMP, so they are copied byte for byte from
// QEMU's io/ and util/qemu-sockets.c (checked against the installed binary). Texts built with
// util::ErrnoStatus() get ": <strerror>" appended, as QEMU's error_setg_errno() does. Format
// strings (with %s/%d) are used with absl::StrFormat.
//
// Texts of our own (for behaviour QEMU does not have) are grouped at the end and say so.
#ifndef MIGEMU_IO_ERRORS_H_
#define MIGEMU_IO_ERRORS_H_

namespace migemu::io {

// ---- io/channel.c ---------------------------------------------------------------------------
inline constexpr char kErrWouldBlock[] = "would block";
inline constexpr char kErrUnexpectedEof[] = "Unexpected end-of-file before all data were read";
// The three below are error_setg_errno(EINVAL, ...): ": Invalid argument" follows.
inline constexpr char kErrZeroCopyUnavailable[] = "Requested Zero Copy feature is not available";
inline constexpr char kErrZeroCopyFdPass[] = "Zero Copy does not support file descriptor passing";
inline constexpr char kErrNoFdPass[] = "Channel does not support file descriptor passing";

// ---- io/channel-socket.c --------------------------------------------------------------------
inline constexpr char kErrSocketRead[] = "Unable to read from socket";
inline constexpr char kErrSocketWrite[] = "Unable to write to socket";
inline constexpr char kErrZeroCopyMemlock[] =
    "Process can't lock enough memory for using MSG_ZEROCOPY";
inline constexpr char kErrReadErrqueue[] = "Unable to read errqueue";
inline constexpr char kErrWrongCmsg[] = "Wrong cmsg in errqueue";
inline constexpr char kErrOnSocket[] = "Error on socket";
inline constexpr char kErrNotFromZeroCopy[] = "Error not from zero copy";
inline constexpr char kErrShutdownSocket[] = "Unable to shutdown socket";
inline constexpr char kErrCloseSocket[] = "Unable to close socket";
inline constexpr char kErrAccept[] = "Unable to accept connection";
inline constexpr char kErrLocalAddress[] = "Unable to query local socket address";
inline constexpr char kErrRemoteAddress[] = "Unable to query remote socket address";
inline constexpr char kFmtTooManyFds[] = "Only %d FDs can be sent, got %zu";

// ---- migration/socket.c ---------------------------------------------------------------------
inline constexpr char kErrZeroCopyNotDetected[] =
    "Zero copy send feature not detected in host kernel";

// ---- io/channel-command.c, io/channel-file.c ------------------------------------------------
inline constexpr char kErrCommandRead[] = "Unable to read from command";
inline constexpr char kErrCommandWrite[] = "Unable to write to command";
inline constexpr char kErrFileRead[] = "Unable to read from file";
inline constexpr char kErrFileWrite[] = "Unable to write to file";
inline constexpr char kErrSetNonblocking[] = "Failed to set FD nonblocking";
inline constexpr char kFmtWaitPid[] = "Failed to wait for pid %d";
inline constexpr char kErrCloseCommand[] = "Unable to close command";

// ---- util/qemu-sockets.c: parsing -----------------------------------------------------------
inline constexpr char kFmtParseAddress[] = "error parsing address '%s'";
inline constexpr char kFmtParseIpv6Address[] = "error parsing IPv6 address '%s'";
inline constexpr char kFmtParsePort[] = "error parsing port in address '%s'";
inline constexpr char kErrParseTo[] = "error parsing to= argument";
inline constexpr char kFmtParseFlag[] = "error parsing '%s' flag '%s'";
inline constexpr char kFmtTrailingChars[] = "trailing characters in address '%s'";
inline constexpr char kErrInvalidUnixAddress[] = "invalid Unix socket address";
inline constexpr char kErrInvalidFdAddress[] = "invalid file descriptor address";

// ---- util/qemu-sockets.c: resolve, connect, listen ------------------------------------------
inline constexpr char kErrNoIpv4NoIpv6[] = "Cannot disable IPv4 and IPv6 at same time";
inline constexpr char kErrHostPortMissing[] = "host and/or port not specified";
inline constexpr char kErrHostMissing[] = "host not specified";
inline constexpr char kFmtResolveFailed[] = "address resolution failed for %s:%s: %s";
inline constexpr char kFmtConnectInet[] = "Failed to connect to '%s:%s'";
inline constexpr char kFmtConnectUnix[] = "Failed to connect to '%s'";
inline constexpr char kFmtCreateSocketFamily[] = "Failed to create socket family %d";
inline constexpr char kErrCreateSocket[] = "Failed to create socket";
inline constexpr char kErrCreateUnixSocket[] = "Failed to create Unix socket";
inline constexpr char kErrUnixConnectNoPath[] = "unix connect: no path specified";
inline constexpr char kFmtUnixPathTooLong[] = "UNIX socket path '%s' is too long";
inline constexpr char kFmtUnlinkSocket[] = "Failed to unlink socket %s";
inline constexpr char kFmtBindUnix[] = "Failed to bind socket to %s";
inline constexpr char kErrBind[] = "Failed to bind socket";
inline constexpr char kErrListen[] = "Failed to listen on socket";
inline constexpr char kErrListenFd[] = "Failed to listen on fd socket";
inline constexpr char kErrNoAvailablePort[] = "Failed to find an available port";
inline constexpr char kErrCreateASocket[] = "Failed to create a socket";
inline constexpr char kErrRecreateListen[] = "Failed to recreate failed listening socket";
inline constexpr char kErrKeepAlive[] = "Unable to set KEEPALIVE";
inline constexpr char kFmtParseCid[] = "Failed to parse cid '%s'";
inline constexpr char kFmtParseVsockPort[] = "Failed to parse port '%s'";
inline constexpr char kFmtParseFdNumber[] = "Unable to parse FD number %s";
inline constexpr char kFmtFdNotSocket[] = "File descriptor '%s' is not a socket";

// ---- monitor/misc.c (fd: transports) --------------------------------------------------------
inline constexpr char kFmtFdNotFound[] = "File descriptor named '%s' has not been found";
inline constexpr char kFmtInvalidFdNumber[] = "Invalid file descriptor number '%s'";

// ---- migration/migration.c (URI dispatch) ---------------------------------------------------
inline constexpr char kErrInvalidMigrationProtocol[] =
    "Parameter 'uri' expects a valid migration protocol";
inline constexpr char kFmtUnknownMigrationProtocol[] = "unknown migration protocol: %s";

// ---- chardev/char.c, util/qemu-option.c (-qmp/-monitor/-chardev compat syntax) ---------------
inline constexpr char kFmtChardevParseError[] = "parse error: %s";
inline constexpr char kFmtNotCharDriver[] = "'%s' is not a valid char driver";
inline constexpr char kFmtInvalidParameter[] = "Invalid parameter '%s'";
inline constexpr char kFmtExpectsOnOff[] = "Parameter '%s' expects 'on' or 'off'";
inline constexpr char kFmtExpectsNumber[] = "Parameter '%s' expects a number";
inline constexpr char kFmtValueTooLarge[] = "Value '%s' is too large for parameter '%s'";
inline constexpr char kErrChardevOneOf[] = "None or one of 'path', 'fd' or 'host' option required.";
inline constexpr char kErrChardevNoPort[] = "chardev: socket: no port given";
inline constexpr char kErrChardevDelayNodelay[] = "'delay' and 'nodelay' are mutually exclusive";

// ---- migemu's own texts (behaviour QEMU 7.2 does not have) ----------------------------------
// Zero-copy enabled on a socket that this process did not connect (QEMU never tries).
inline constexpr char kErrZeroCopyOnlyConnected[] =
    "Zero copy send is only available on outgoing connections";
// Flush interrupted because the channel was shut down (QEMU would wait forever).
inline constexpr char kErrFlushShutdown[] = "Channel shut down while waiting for zero copy";
// Exec channel spawn failure (QEMU shows GLib's g_spawn text instead).
inline constexpr char kFmtSpawnFailed[] = "Failed to execute child process \"%s\"";
inline constexpr char kErrChannelClosed[] = "Channel is closed";

}  // namespace migemu::io

#endif  // MIGEMU_IO_ERRORS_H_
