// A small JSON reader and writer for the plan protocol between runtime-core and podkit-init. The plan
// is plain JSON produced by TypeScript; numbers keep their source text so 64-bit values (rlimits)
// round-trip exactly.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace podkit::json {

class Value {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Value() = default;
  Type type() const { return type_; }
  bool IsNull() const { return type_ == Type::kNull; }
  bool IsString() const { return type_ == Type::kString; }
  bool IsNumber() const { return type_ == Type::kNumber; }
  bool IsArray() const { return type_ == Type::kArray; }
  bool IsObject() const { return type_ == Type::kObject; }
  bool IsBool() const { return type_ == Type::kBool; }

  const std::string& Str() const { return text_; }
  bool Bool() const { return bool_; }
  int64_t Int() const;
  uint64_t Uint() const;
  const std::vector<Value>& Arr() const { return items_; }
  const std::vector<std::pair<std::string, Value>>& Obj() const { return members_; }

  // Member lookup; nullptr when absent (or when this is not an object).
  const Value* Get(std::string_view key) const;
  std::string GetString(std::string_view key, const std::string& fallback = "") const;
  int64_t GetInt(std::string_view key, int64_t fallback = 0) const;
  bool GetBool(std::string_view key, bool fallback = false) const;
  // Strings of an array member (non-strings are skipped); empty when absent.
  std::vector<std::string> GetStrings(std::string_view key) const;

 private:
  friend class Parser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string text_;  // string value, or a number's source text
  std::vector<Value> items_;
  std::vector<std::pair<std::string, Value>> members_;
};

// Parses `text`; on failure returns false and describes the problem in `err`.
bool Parse(std::string_view text, Value* out, std::string* err);

// A JSON string literal (with quotes) for `s`.
std::string Quote(std::string_view s);

// Builds one flat JSON object: {"k": v, ...}.
class ObjectWriter {
 public:
  ObjectWriter& Str(std::string_view key, std::string_view value);
  ObjectWriter& Int(std::string_view key, int64_t value);
  ObjectWriter& Raw(std::string_view key, std::string_view json);
  std::string Done() const { return out_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string out_ = "{";
};

}  // namespace podkit::json
