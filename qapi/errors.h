// File: qapi/errors.h
//
// The input error texts of QEMU 7.2's QObject input visitor (qapi/qobject-input-visitor.c,
// qapi/qapi-visit-core.c, include/qapi/qmp/qerror.h). They are interface facts: clients
// match them byte for byte. '%s' is a member name or path, as InputPath documents.
#ifndef MIGEMU_QAPI_ERRORS_H_
#define MIGEMU_QAPI_ERRORS_H_

namespace migemu::qapi {

// QERR_MISSING_PARAMETER: a required member is absent.
inline constexpr char kMissingParameter[] = "Parameter '%s' is missing";
// A member that no schema member consumed (qobject_input_check_struct).
inline constexpr char kUnexpectedParameter[] = "Parameter '%s' is unexpected";
// QERR_INVALID_PARAMETER_TYPE: wrong JSON type; the second '%s' is one of integer,
// boolean, string, object, array, number, null or an alternate's type name.
inline constexpr char kInvalidParameterType[] = "Invalid parameter type for '%s', expected: %s";
// QERR_INVALID_PARAMETER_VALUE: out of range (uint8_t, int16_t, ...) or not an integer
// for uint64/size ("uint64").
inline constexpr char kInvalidParameterValue[] = "Parameter '%s' expects %s";
// An enum string that is not one of the enum's values.
inline constexpr char kInvalidEnumValue[] = "Parameter '%s' does not accept value '%s'";

}  // namespace migemu::qapi

#endif  // MIGEMU_QAPI_ERRORS_H_
