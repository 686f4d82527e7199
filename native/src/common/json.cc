#include "common/json.h"

#include <cstdlib>
#include <cstring>

namespace podkit::json {

int64_t Value::Int() const {
  if (type_ != Type::kNumber) return 0;
  return strtoll(text_.c_str(), nullptr, 10);
}

uint64_t Value::Uint() const {
  if (type_ != Type::kNumber && type_ != Type::kString) return 0;
  return strtoull(text_.c_str(), nullptr, 10);
}

const Value* Value::Get(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const auto& [k, v] : members_) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string Value::GetString(std::string_view key, const std::string& fallback) const {
  const Value* v = Get(key);
  return v != nullptr && v->IsString() ? v->Str() : fallback;
}

int64_t Value::GetInt(std::string_view key, int64_t fallback) const {
  const Value* v = Get(key);
  return v != nullptr && v->IsNumber() ? v->Int() : fallback;
}

bool Value::GetBool(std::string_view key, bool fallback) const {
  const Value* v = Get(key);
  return v != nullptr && v->IsBool() ? v->Bool() : fallback;
}

std::vector<std::string> Value::GetStrings(std::string_view key) const {
  std::vector<std::string> out;
  const Value* v = Get(key);
  if (v == nullptr || !v->IsArray()) return out;
  for (const Value& item : v->Arr()) {
    if (item.IsString()) out.push_back(item.Str());
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  bool ParseDocument(Value* out, std::string* err) {
    if (!ParseValue(out, 0)) {
      *err = error_ + " at offset " + std::to_string(pos_);
      return false;
    }
    SkipSpace();
    if (pos_ != s_.size()) {
      *err = "trailing characters at offset " + std::to_string(pos_);
      return false;
    }
    return true;
  }

 private:
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) pos_++;
  }
  bool Fail(const char* what) {
    error_ = what;
    return false;
  }
  bool Literal(const char* word) {
    size_t n = strlen(word);
    if (s_.substr(pos_, n) != word) return Fail("invalid literal");
    pos_ += n;
    return true;
  }

  bool ParseValue(Value* out, int depth) {
    if (depth > 64) return Fail("nesting too deep");
    SkipSpace();
    if (pos_ >= s_.size()) return Fail("unexpected end");
    char c = s_[pos_];
    if (c == '{') return ParseObject(out, depth);
    if (c == '[') return ParseArray(out, depth);
    if (c == '"') {
      out->type_ = Value::Type::kString;
      return ParseString(&out->text_);
    }
    if (c == 't') {
      out->type_ = Value::Type::kBool;
      out->bool_ = true;
      return Literal("true");
    }
    if (c == 'f') {
      out->type_ = Value::Type::kBool;
      out->bool_ = false;
      return Literal("false");
    }
    if (c == 'n') {
      out->type_ = Value::Type::kNull;
      return Literal("null");
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = pos_;
      pos_++;
      while (pos_ < s_.size() && strchr("0123456789.eE+-", s_[pos_]) != nullptr) pos_++;
      out->type_ = Value::Type::kNumber;
      out->text_ = std::string(s_.substr(start, pos_ - start));
      return true;
    }
    return Fail("unexpected character");
  }

  bool ParseObject(Value* out, int depth) {
    out->type_ = Value::Type::kObject;
    pos_++;  // {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      pos_++;
      return true;
    }
    while (true) {
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"') return Fail("expected a member name");
      std::string key;
      if (!ParseString(&key)) return false;
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return Fail("expected ':'");
      pos_++;
      Value v;
      if (!ParseValue(&v, depth + 1)) return false;
      out->members_.emplace_back(std::move(key), std::move(v));
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        pos_++;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        pos_++;
        return true;
      }
      return Fail("expected ',' or '}'");
    }
  }

  bool ParseArray(Value* out, int depth) {
    out->type_ = Value::Type::kArray;
    pos_++;  // [
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      pos_++;
      return true;
    }
    while (true) {
      Value v;
      if (!ParseValue(&v, depth + 1)) return false;
      out->items_.push_back(std::move(v));
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        pos_++;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        pos_++;
        return true;
      }
      return Fail("expected ',' or ']'");
    }
  }

  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool Hex4(uint32_t* cp) {
    if (pos_ + 4 > s_.size()) return Fail("short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
      char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= h - '0';
      else if (h >= 'a' && h <= 'f') v |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') v |= h - 'A' + 10;
      else return Fail("bad \\u escape");
    }
    *cp = v;
    return true;
  }

  bool ParseString(std::string* out) {
    pos_++;  // opening quote
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 6 <= s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
            pos_ += 2;
            uint32_t lo = 0;
            if (!Hex4(&lo)) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          AppendUtf8(out, cp);
          break;
        }
        default: return Fail("bad escape");
      }
    }
    return Fail("unterminated string");
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

bool Parse(std::string_view text, Value* out, std::string* err) {
  Parser p(text);
  *out = Value();
  return p.ParseDocument(out, err);
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

void ObjectWriter::Key(std::string_view key) {
  if (out_.size() > 1) out_ += ",";
  out_ += Quote(key);
  out_ += ":";
}

ObjectWriter& ObjectWriter::Str(std::string_view key, std::string_view value) {
  Key(key);
  out_ += Quote(value);
  return *this;
}

ObjectWriter& ObjectWriter::Int(std::string_view key, int64_t value) {
  Key(key);
  out_ += std::to_string(value);
  return *this;
}

ObjectWriter& ObjectWriter::Raw(std::string_view key, std::string_view json) {
  Key(key);
  out_ += json;
  return *this;
}

}  // namespace podkit::json
