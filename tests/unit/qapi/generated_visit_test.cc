// The generated FromJson/ToJson of the test schema (schema/test-schema.json): round trips
// and every input error kind, with QEMU 7.2's texts and member paths.
#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "qapi/runtime.h"
#include "tests/unit/qapi/json_test_util.h"
#include "tests/unit/qapi/qapi-types.h"
#include "tests/unit/qapi/qapi-visit.h"

namespace migemu::qapi {
namespace {

using testing::JsonEq;
using testing::ParseJson;

template <typename T>
absl::StatusOr<T> Parse(const std::string& json) {
  rapidjson::Document doc = ParseJson(json);
  return ParseArguments<T>(&doc);
}

template <typename T>
std::string ErrorOf(const std::string& json) {
  absl::StatusOr<T> result = Parse<T>(json);
  if (result.ok()) {
    return "<ok>";
  }
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(result.status().message());
}

// JSON -> T -> JSON must give the same DOM back.
template <typename T>
void ExpectRoundTrip(const std::string& json) {
  SCOPED_TRACE(json);
  absl::StatusOr<T> value = Parse<T>(json);
  ASSERT_TRUE(value.ok()) << value.status();
  rapidjson::Document out = ToDocument(*value);
  EXPECT_TRUE(JsonEq(out, json));
  // And T -> JSON -> T gives an equal value.
  absl::StatusOr<T> again = ParseArguments<T>(&out);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again == *value);
}

TEST(GeneratedVisitTest, RoundTripsEveryType) {
  ExpectRoundTrip<Scalars>(
      R"({"i": -5, "i8": -128, "i16": 32767, "i32": -2147483648, "i64": 9223372036854775807,
          "u8": 255, "u16": 65535, "u32": 4294967295, "u64": 18446744073709551615,
          "sz": 0, "num": 2.5, "b": true, "s": "text", "a": {"any": [1, null]}, "n": null})");
  ExpectRoundTrip<Scalars>(
      R"({"i": 0, "i8": 0, "i16": 0, "i32": 0, "i64": 0, "u8": 0, "u16": 0, "u32": 0,
          "u64": 0, "sz": 0, "num": 0.5, "b": false, "s": ""})");
  ExpectRoundTrip<Inner>(R"({"x": 1})");
  ExpectRoundTrip<Inner>(R"({"x": 1, "y": 7})");
  ExpectRoundTrip<Base>(R"({"id": "b"})");
  ExpectRoundTrip<Derived>(
      R"({"id": "d", "tag": 3, "color": "dark-blue", "colors": ["red", "x-ultra"],
          "nums": [1, -2], "flags": [true, false], "inner": {"x": 1}, "list": [{"x": 2, "y": 3}],
          "unix": true, "default": "dflt", "linux-only": 9, "old": "o",
          "sub": {"value": null, "list": ["a"]}})");
  ExpectRoundTrip<Derived>(R"({"id": "d", "color": "red", "unix": false, "linux-only": 0})");
  ExpectRoundTrip<Empty>(R"({})");
  ExpectRoundTrip<CondAll>(R"({"v": 1})");
  ExpectRoundTrip<Circle>(R"({"radius": 1.5})");
  ExpectRoundTrip<Square>(R"({"side": 3, "filled": true})");
  ExpectRoundTrip<Shape>(R"({"kind": "circle", "name": "c", "radius": 2.5})");
  ExpectRoundTrip<Shape>(R"({"kind": "square", "side": 4})");
  ExpectRoundTrip<Shape>(R"({"kind": "point"})");
  ExpectRoundTrip<ShapeBase>(R"({"kind": "point"})");
  ExpectRoundTrip<NamedBaseShape>(R"({"kind": "circle", "radius": 1.25})");
  ExpectRoundTrip<NamedBaseShape>(R"({"kind": "square"})");
  ExpectRoundTrip<Holder>(
      R"({"alt": 5, "nc": "green", "alts": [1, {"kind": "point"}, [1, 2], true],
          "bytes": [0, 255], "shape": {"kind": "circle", "radius": 1.5},
          "named": {"kind": "point"}, "digits": "1"})");
  ExpectRoundTrip<Holder>(R"({"nc": 3.5})");
  ExpectRoundTrip<Tree>(
      R"({"kind": "circle", "label": "root", "children": [
            {"kind": "point"},
            {"kind": "circle", "label": "leaf", "children": []}]})");
  ExpectRoundTrip<SubThing>(R"({"value": "str"})");
  ExpectRoundTrip<SubThing>(R"({"value": null, "list": []})");
  ExpectRoundTrip<TestArgsArg>(R"({"a": 1, "b": "x", "colors": ["green"]})");
  ExpectRoundTrip<std::vector<Inner>>(R"([{"x": 1}, {"x": 2, "y": 0}])");
  ExpectRoundTrip<std::vector<Color>>(R"(["red", "green"])");
  ExpectRoundTrip<std::vector<std::string>>(R"(["a", "b"])");
}

TEST(GeneratedVisitTest, StructsAreFlatAggregates) {
  absl::StatusOr<Derived> d = Parse<Derived>(
      R"({"id": "d", "tag": 4, "color": "green", "unix": true, "linux-only": 1,
          "inner": {"x": 5}, "default": "v"})");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->id, "d");  // base member, flattened
  EXPECT_EQ(d->tag, 4);
  EXPECT_EQ(d->color, Color::kGreen);
  EXPECT_TRUE(d->q_unix);
  EXPECT_EQ(d->q_default, "v");
  EXPECT_EQ(d->linux_only, 1);
  ASSERT_TRUE(d->inner.has_value());
  EXPECT_EQ(d->inner->x, 5);
  EXPECT_FALSE(d->inner->y.has_value());
  EXPECT_FALSE(d->colors.has_value());
}

TEST(GeneratedVisitTest, UnionSelectsItsBranch) {
  absl::StatusOr<Shape> s = Parse<Shape>(R"({"kind": "square", "side": 7, "filled": false})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->kind, ShapeKind::kSquare);
  EXPECT_EQ(s->u.square.side, 7);
  EXPECT_EQ(s->u.square.filled, false);
  EXPECT_FALSE(s->name.has_value());
}

TEST(GeneratedVisitTest, AlternatePicksBranchByJsonType) {
  absl::StatusOr<Holder> h =
      Parse<Holder>(R"({"alts": [7, {"kind": "point"}, [3], false], "nc": 1})");
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->alts->size(), 4u);
  EXPECT_EQ((*h->alts)[0].type, QType::kQnum);
  EXPECT_EQ((*h->alts)[0].i, 7);
  EXPECT_EQ((*h->alts)[1].type, QType::kQdict);
  EXPECT_EQ((*h->alts)[1].shape.kind, ShapeKind::kPoint);
  EXPECT_EQ((*h->alts)[2].type, QType::kQlist);
  EXPECT_EQ((*h->alts)[2].l, std::vector<int64_t>{3});
  EXPECT_EQ((*h->alts)[3].type, QType::kQbool);
  EXPECT_FALSE((*h->alts)[3].b);
  // An integer satisfies 'number'.
  EXPECT_EQ(h->nc->type, QType::kQnum);
  EXPECT_EQ(h->nc->n, 1.0);

  absl::StatusOr<SubThing> t = Parse<SubThing>(R"({"value": null})");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->value.type, QType::kQnull);
}

TEST(GeneratedVisitTest, NumberModel) {
  absl::StatusOr<Scalars> s = Parse<Scalars>(
      R"({"i": 1, "i8": 1, "i16": 1, "i32": 1, "i64": 1, "u8": 1, "u16": 1, "u32": 1,
          "u64": -1, "sz": -2, "num": 18446744073709551615, "b": true, "s": ""})");
  ASSERT_TRUE(s.ok()) << s.status();
  // Negative integers wrap into uint64/size as QEMU does.
  EXPECT_EQ(s->u64, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(s->sz, std::numeric_limits<uint64_t>::max() - 1);
  EXPECT_EQ(s->num, 18446744073709551615.0);
}

// -- one test per error kind --------------------------------------------------------------

constexpr char kScalarsOk[] =
    R"("i": 1, "i8": 1, "i16": 1, "i32": 1, "i64": 1, "u8": 1, "u16": 1, "u32": 1,
       "u64": 1, "sz": 1, "num": 1, "b": true, "s": "")";

std::string ScalarsWith(const std::string& member, const std::string& value) {
  rapidjson::Document doc = ParseJson(std::string("{") + kScalarsOk + "}");
  rapidjson::Document v = ParseJson(value);
  doc.RemoveMember(member.c_str());
  rapidjson::Value name(member.c_str(), doc.GetAllocator());
  rapidjson::Value copy(v, doc.GetAllocator());
  doc.AddMember(name, copy, doc.GetAllocator());
  return testing::JsonText(doc);
}

TEST(GeneratedVisitErrorTest, MissingMember) {
  EXPECT_EQ(ErrorOf<Inner>("{}"), "Parameter 'x' is missing");
  EXPECT_EQ(ErrorOf<Derived>(R"({"color": "red", "unix": true, "linux-only": 1})"),
            "Parameter 'id' is missing");
  EXPECT_EQ(ErrorOf<Holder>(R"({"derived": {"id": "a", "color": "red", "unix": true,
                                            "linux-only": 1, "list": [{"x": 1}, {}]}})"),
            "Parameter 'derived.list[1].x' is missing");
  EXPECT_EQ(ErrorOf<Shape>(R"({"kind": "circle"})"), "Parameter 'radius' is missing");
  EXPECT_EQ(ErrorOf<SubThing>("{}"), "Parameter 'value' is missing");
}

TEST(GeneratedVisitErrorTest, UnexpectedMember) {
  EXPECT_EQ(ErrorOf<Inner>(R"({"x": 1, "z": 2})"), "Parameter 'z' is unexpected");
  EXPECT_EQ(ErrorOf<Empty>(R"({"a": 1})"), "Parameter 'a' is unexpected");
  EXPECT_EQ(ErrorOf<Holder>(R"({"shape": {"kind": "point", "radius": 1}})"),
            "Parameter 'shape.radius' is unexpected");
  EXPECT_EQ(ErrorOf<Holder>(R"({"alts": [{"kind": "point", "extra": 1}]})"),
            "Parameter 'alts[0].extra' is unexpected");
  // A member whose 'if' is false does not exist.
  EXPECT_EQ(
      ErrorOf<Derived>(R"({"id": "a", "color": "red", "unix": true, "linux-only": 1, "never": 1})"),
      "Parameter 'never' is unexpected");
  // A union branch whose 'if' is false is an empty branch.
  EXPECT_EQ(ErrorOf<NamedBaseShape>(R"({"kind": "square", "side": 1})"),
            "Parameter 'side' is unexpected");
  // Several unknown members: QEMU's GHashTable order decides ("zzz" before "aaa").
  EXPECT_EQ(ErrorOf<Inner>(R"({"zzz": 1, "aaa": 2, "x": 1})"), "Parameter 'zzz' is unexpected");
  // A missing member is reported before leftovers.
  EXPECT_EQ(ErrorOf<Inner>(R"({"zzz": 1})"), "Parameter 'x' is missing");
}

TEST(GeneratedVisitErrorTest, InvalidType) {
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("i", R"("1")")),
            "Invalid parameter type for 'i', expected: integer");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("i", "1.0")),
            "Invalid parameter type for 'i', expected: integer");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("i64", "9223372036854775808")),
            "Invalid parameter type for 'i64', expected: integer");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("i8", "1e2")),
            "Invalid parameter type for 'i8', expected: integer");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("b", "1")),
            "Invalid parameter type for 'b', expected: boolean");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("s", "null")),
            "Invalid parameter type for 's', expected: string");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("num", R"("2")")),
            "Invalid parameter type for 'num', expected: number");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("n", "0")),
            "Invalid parameter type for 'n', expected: null");
  EXPECT_EQ(ErrorOf<Holder>(R"({"shape": []})"),
            "Invalid parameter type for 'shape', expected: object");
  EXPECT_EQ(ErrorOf<Holder>(R"({"bytes": {}})"),
            "Invalid parameter type for 'bytes', expected: array");
  EXPECT_EQ(ErrorOf<Holder>(R"({"bytes": [1, "2"]})"), "Parameter 'bytes[1]' expects uint64");
  EXPECT_EQ(ErrorOf<Holder>(R"({"derived": {"id": "a", "color": "red", "unix": true,
                                            "linux-only": 1, "inner": {"x": true}}})"),
            "Invalid parameter type for 'derived.inner.x', expected: integer");
  EXPECT_EQ(ErrorOf<Holder>(R"({"alts": [1, 2.5]})"),
            "Invalid parameter type for 'alts[1]', expected: integer");
  EXPECT_EQ(ErrorOf<Tree>(R"({"kind": "circle", "label": "a", "children": [
                                {"kind": "circle", "label": 5}]})"),
            "Invalid parameter type for 'children[0].label', expected: string");
  EXPECT_EQ(ErrorOf<Holder>(R"({"alts": [[1, "x"]]})"),
            "Invalid parameter type for 'alts[0][1]', expected: integer");
  EXPECT_EQ(ErrorOf<Inner>("[]"), "Invalid parameter type for '<anonymous>', expected: object");
}

TEST(GeneratedVisitErrorTest, AlternateWithoutMatchingBranch) {
  // Alternates name the member only ("null" inside a list), then their type name.
  EXPECT_EQ(ErrorOf<SubThing>(R"({"value": 1})"),
            "Invalid parameter type for 'value', expected: StrOrNull");
  EXPECT_EQ(ErrorOf<Holder>(R"({"alt": "x"})"),
            "Invalid parameter type for 'alt', expected: IntOrShape");
  EXPECT_EQ(ErrorOf<Holder>(R"({"alts": [1, null]})"),
            "Invalid parameter type for 'null', expected: IntOrShape");
  EXPECT_EQ(ErrorOf<Holder>(R"({"nc": "blue"})"), "Parameter 'nc' does not accept value 'blue'");
}

TEST(GeneratedVisitErrorTest, OutOfRange) {
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("u8", "256")), "Parameter 'u8' expects uint8_t");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("u8", "-1")), "Parameter 'u8' expects uint8_t");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("u16", "65536")), "Parameter 'u16' expects uint16_t");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("u32", "4294967296")), "Parameter 'u32' expects uint32_t");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("i8", "-129")), "Parameter 'i8' expects int8_t");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("i16", "32768")), "Parameter 'i16' expects int16_t");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("i32", "2147483648")), "Parameter 'i32' expects int32_t");
  // Only the member's own name, as QEMU's visit_type_uintN() reports it.
  EXPECT_EQ(ErrorOf<Holder>(R"({"derived": {"id": "a", "color": "red", "unix": true,
                                            "linux-only": 1, "inner": {"x": 1, "y": 256}}})"),
            "Parameter 'y' expects uint8_t");
  EXPECT_EQ(ErrorOf<Holder>(R"({"bytes": [1, 256]})"), "Parameter 'null' expects uint8_t");
}

TEST(GeneratedVisitErrorTest, NotAnInteger64) {
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("u64", "1.5")), "Parameter 'u64' expects uint64");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("u64", "18446744073709551616")),
            "Parameter 'u64' expects uint64");
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("sz", R"("1")")), "Parameter 'sz' expects uint64");
  // uintN visits uint64 first: a string into uint8 says uint64.
  EXPECT_EQ(ErrorOf<Scalars>(ScalarsWith("u8", R"("a")")), "Parameter 'u8' expects uint64");
}

TEST(GeneratedVisitErrorTest, InvalidEnumValue) {
  EXPECT_EQ(ErrorOf<Derived>(R"({"id": "a", "color": "blue", "unix": true, "linux-only": 1})"),
            "Parameter 'color' does not accept value 'blue'");
  // A value whose 'if' is false does not exist.
  EXPECT_EQ(ErrorOf<Derived>(R"({"id": "a", "color": "infrared", "unix": true, "linux-only": 1})"),
            "Parameter 'color' does not accept value 'infrared'");
  EXPECT_EQ(ErrorOf<Derived>(R"({"id": "a", "color": 1, "unix": true, "linux-only": 1})"),
            "Invalid parameter type for 'color', expected: string");
  EXPECT_EQ(ErrorOf<Derived>(
                R"({"id": "a", "color": "red", "colors": ["red", "x"], "unix": true,
                    "linux-only": 1})"),
            "Parameter 'null' does not accept value 'x'");
  EXPECT_EQ(ErrorOf<Shape>(R"({"kind": "hexagon"})"),
            "Parameter 'kind' does not accept value 'hexagon'");
}

TEST(GeneratedVisitTest, EnumHelpers) {
  EXPECT_EQ(EnumToString(Color::kDarkBlue), "dark-blue");
  EXPECT_EQ(EnumFromString<Color>("x-ultra"), Color::kXUltra);
  EXPECT_FALSE(EnumFromString<Color>("infrared").has_value());
  EXPECT_EQ(EnumCount<Color>(), 4u);
  EXPECT_EQ(EnumToString(static_cast<Color>(99)), "");
  EXPECT_EQ(EnumToString(Digits::k1), "1");
  EXPECT_EQ(EnumToString(Digits::k2x), "2x");
  EXPECT_EQ(EnumToString(QType::kQstring), "qstring");
  EXPECT_STREQ(EnumTraits<ShapeKind>::kTypeName, "ShapeKind");
}

TEST(GeneratedVisitTest, OutputOmitsAbsentOptionalsAndWritesUnsigned) {
  Scalars s;
  s.u64 = std::numeric_limits<uint64_t>::max();
  s.s = "x";
  rapidjson::Document doc = ToDocument(s);
  EXPECT_FALSE(doc.HasMember("a"));
  EXPECT_FALSE(doc.HasMember("n"));
  ASSERT_TRUE(doc["u64"].IsUint64());
  EXPECT_EQ(doc["u64"].GetUint64(), std::numeric_limits<uint64_t>::max());
  s.n = nullptr;
  rapidjson::Document with_null = ToDocument(s);
  ASSERT_TRUE(with_null.HasMember("n"));
  EXPECT_TRUE(with_null["n"].IsNull());
}

}  // namespace
}  // namespace migemu::qapi
