// offload::json: a small, strict JSON value, parser and writer for the worker SDK.
// Header-only, standard C++ only, so a worker starts without loading Qt.
// Parsing follows RFC 8259 and rejects invalid UTF-8, unpaired surrogates, trailing bytes and
// nesting deeper than 512 levels.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace offload::json {

class Value;
using Array = std::vector<Value>;
using Object = std::map<std::string, Value, std::less<>>;

class Value
{
public:
    enum class Type { Null, Bool, Number, String, Array, Object };

    Value() = default;
    Value(std::nullptr_t) { }
    Value(bool b) : m_v(b) { }
    Value(int n) : m_v(double(n)) { }
    Value(int64_t n) : m_v(double(n)) { }
    Value(double n) : m_v(n) { }
    Value(const char *s) : m_v(std::string(s)) { }
    Value(std::string s) : m_v(std::move(s)) { }
    Value(Array a) : m_v(std::make_shared<Array>(std::move(a))) { }
    Value(Object o) : m_v(std::make_shared<Object>(std::move(o))) { }

    Type type() const { return Type(m_v.index()); }
    bool isNull() const { return type() == Type::Null; }
    bool isBool() const { return type() == Type::Bool; }
    bool isNumber() const { return type() == Type::Number; }
    bool isString() const { return type() == Type::String; }
    bool isArray() const { return type() == Type::Array; }
    bool isObject() const { return type() == Type::Object; }

    bool toBool(bool fallback = false) const { return isBool() ? std::get<bool>(m_v) : fallback; }
    double toDouble(double fallback = 0) const
    {
        return isNumber() ? std::get<double>(m_v) : fallback;
    }
    // The number truncated toward zero; fallback if it is not a number or outside int64's
    // range (checked first: converting such a double is undefined behaviour).
    int64_t toInt(int64_t fallback = 0) const
    {
        if (!isNumber())
            return fallback;
        const double d = std::get<double>(m_v);
        return d >= -9223372036854775808.0 && d < 9223372036854775808.0 ? int64_t(d) : fallback;
    }
    // The number if it is an integer that int64 holds exactly (3 and 3.0 alike), else nullopt.
    std::optional<int64_t> toExactInt() const
    {
        const int64_t i = toInt();
        if (!isNumber() || double(i) != std::get<double>(m_v))
            return std::nullopt;
        return i;
    }
    std::string toString(std::string fallback = {}) const
    {
        return isString() ? std::get<std::string>(m_v) : fallback;
    }
    const Array &array() const
    {
        static const Array empty;
        return isArray() ? *std::get<4>(m_v) : empty;
    }
    const Object &object() const
    {
        static const Object empty;
        return isObject() ? *std::get<5>(m_v) : empty;
    }

    // Member of an object (null Value if absent or not an object).
    const Value &operator[](std::string_view key) const
    {
        static const Value null;
        if (!isObject())
            return null;
        auto it = std::get<5>(m_v)->find(key);
        return it == std::get<5>(m_v)->end() ? null : it->second;
    }
    bool contains(std::string_view key) const { return isObject() && object().count(key); }

private:
    std::variant<std::monostate, bool, double, std::string, std::shared_ptr<Array>,
        std::shared_ptr<Object>>
        m_v;
};

class ParseError : public std::runtime_error
{
public:
    ParseError(const std::string &what, size_t offset)
        : std::runtime_error(what + " at byte " + std::to_string(offset)), m_offset(offset)
    { }
    size_t offset() const { return m_offset; }

private:
    size_t m_offset;
};

namespace detail {

class Parser
{
public:
    explicit Parser(std::string_view text) : m_s(text) { }

    Value parseDocument()
    {
        Value v = parseValue(0);
        skipSpace();
        if (m_i != m_s.size())
            fail("trailing characters after the JSON value");
        return v;
    }

private:
    [[noreturn]] void fail(const char *what) const { throw ParseError(what, m_i); }
    void skipSpace()
    {
        while (m_i < m_s.size()
            && (m_s[m_i] == ' ' || m_s[m_i] == '\t' || m_s[m_i] == '\n' || m_s[m_i] == '\r'))
            ++m_i;
    }
    bool consume(std::string_view word)
    {
        if (m_s.substr(m_i, word.size()) != word)
            return false;
        m_i += word.size();
        return true;
    }

    Value parseValue(int depth)
    {
        if (depth > 512)
            fail("nesting too deep");
        skipSpace();
        if (m_i >= m_s.size())
            fail("unexpected end of input");
        switch (m_s[m_i]) {
        case '{':
            return parseObject(depth);
        case '[':
            return parseArray(depth);
        case '"':
            return Value(parseString());
        case 't':
            if (consume("true"))
                return Value(true);
            break;
        case 'f':
            if (consume("false"))
                return Value(false);
            break;
        case 'n':
            if (consume("null"))
                return Value();
            break;
        default:
            return parseNumber();
        }
        fail("invalid literal");
    }

    Value parseObject(int depth)
    {
        ++m_i; // {
        Object obj;
        skipSpace();
        if (m_i < m_s.size() && m_s[m_i] == '}') {
            ++m_i;
            return Value(std::move(obj));
        }
        for (;;) {
            skipSpace();
            if (m_i >= m_s.size() || m_s[m_i] != '"')
                fail("expected a string key");
            std::string key = parseString();
            skipSpace();
            if (m_i >= m_s.size() || m_s[m_i] != ':')
                fail("expected ':'");
            ++m_i;
            obj.insert_or_assign(std::move(key), parseValue(depth + 1));
            skipSpace();
            if (m_i < m_s.size() && m_s[m_i] == ',') {
                ++m_i;
                continue;
            }
            if (m_i < m_s.size() && m_s[m_i] == '}') {
                ++m_i;
                return Value(std::move(obj));
            }
            fail("expected ',' or '}'");
        }
    }

    Value parseArray(int depth)
    {
        ++m_i; // [
        Array arr;
        skipSpace();
        if (m_i < m_s.size() && m_s[m_i] == ']') {
            ++m_i;
            return Value(std::move(arr));
        }
        for (;;) {
            arr.push_back(parseValue(depth + 1));
            skipSpace();
            if (m_i < m_s.size() && m_s[m_i] == ',') {
                ++m_i;
                continue;
            }
            if (m_i < m_s.size() && m_s[m_i] == ']') {
                ++m_i;
                return Value(std::move(arr));
            }
            fail("expected ',' or ']'");
        }
    }

    Value parseNumber()
    {
        const size_t start = m_i;
        if (m_i < m_s.size() && m_s[m_i] == '-')
            ++m_i;
        const auto digits = [&] {
            const size_t from = m_i;
            while (m_i < m_s.size() && m_s[m_i] >= '0' && m_s[m_i] <= '9')
                ++m_i;
            return m_i - from;
        };
        if (m_i < m_s.size() && m_s[m_i] == '0')
            ++m_i;
        else if (digits() == 0)
            fail("invalid number");
        if (m_i < m_s.size() && m_s[m_i] == '.') {
            ++m_i;
            if (digits() == 0)
                fail("invalid fraction");
        }
        if (m_i < m_s.size() && (m_s[m_i] == 'e' || m_s[m_i] == 'E')) {
            ++m_i;
            if (m_i < m_s.size() && (m_s[m_i] == '+' || m_s[m_i] == '-'))
                ++m_i;
            if (digits() == 0)
                fail("invalid exponent");
        }
        const std::string text(m_s.substr(start, m_i - start));
        const double d = std::strtod(text.c_str(), nullptr);
        if (!std::isfinite(d))
            fail("number out of range");
        return Value(d);
    }

    unsigned hex4()
    {
        if (m_i + 4 > m_s.size())
            fail("truncated \\u escape");
        unsigned v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = m_s[m_i++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= unsigned(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= unsigned(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= unsigned(c - 'A' + 10);
            else
                fail("invalid \\u escape");
        }
        return v;
    }

    static void appendUtf8(std::string &out, unsigned cp)
    {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }

    // Validates one UTF-8 sequence starting at m_i and copies it.
    void copyUtf8(std::string &out)
    {
        const auto b = [&](size_t k) { return static_cast<unsigned char>(m_s[m_i + k]); };
        const unsigned char c = b(0);
        size_t len = 0;
        unsigned cp = 0;
        if (c < 0x80) {
            len = 1;
            cp = c;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else
            fail("invalid UTF-8");
        if (m_i + len > m_s.size())
            fail("truncated UTF-8");
        for (size_t k = 1; k < len; ++k) {
            if ((b(k) & 0xC0) != 0x80)
                fail("invalid UTF-8");
            cp = (cp << 6) | (b(k) & 0x3F);
        }
        const unsigned minimum[] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < minimum[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            fail("invalid UTF-8");
        out.append(m_s.substr(m_i, len));
        m_i += len;
    }

    std::string parseString()
    {
        ++m_i; // opening quote
        std::string out;
        for (;;) {
            if (m_i >= m_s.size())
                fail("unterminated string");
            const char c = m_s[m_i];
            if (c == '"') {
                ++m_i;
                return out;
            }
            if (static_cast<unsigned char>(c) < 0x20)
                fail("control character in string");
            if (c != '\\') {
                copyUtf8(out);
                continue;
            }
            ++m_i;
            if (m_i >= m_s.size())
                fail("unterminated escape");
            const char e = m_s[m_i++];
            switch (e) {
            case '"':
                out += '"';
                break;
            case '\\':
                out += '\\';
                break;
            case '/':
                out += '/';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                unsigned cp = hex4();
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (!consume("\\u"))
                        fail("unpaired surrogate");
                    const unsigned low = hex4();
                    if (low < 0xDC00 || low > 0xDFFF)
                        fail("unpaired surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    fail("unpaired surrogate");
                }
                appendUtf8(out, cp);
                break;
            }
            default:
                fail("invalid escape");
            }
        }
    }

    std::string_view m_s;
    size_t m_i = 0;
};

inline void writeString(std::string &out, std::string_view s)
{
    out += '"';
    for (const char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
                out += buf;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

inline void write(std::string &out, const Value &v)
{
    switch (v.type()) {
    case Value::Type::Null:
        out += "null";
        break;
    case Value::Type::Bool:
        out += v.toBool() ? "true" : "false";
        break;
    case Value::Type::Number: {
        const double d = v.toDouble();
        char buf[32];
        if (d == std::floor(d) && std::fabs(d) < 9.007199254740992e15)
            std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
        else
            std::snprintf(buf, sizeof buf, "%.17g", d);
        out += buf;
        break;
    }
    case Value::Type::String:
        writeString(out, v.toString());
        break;
    case Value::Type::Array: {
        out += '[';
        bool first = true;
        for (const auto &e : v.array()) {
            if (!first)
                out += ',';
            first = false;
            write(out, e);
        }
        out += ']';
        break;
    }
    case Value::Type::Object: {
        out += '{';
        bool first = true;
        for (const auto &[k, e] : v.object()) {
            if (!first)
                out += ',';
            first = false;
            writeString(out, k);
            out += ':';
            write(out, e);
        }
        out += '}';
        break;
    }
    }
}

} // namespace detail

// Throws ParseError.
inline Value parse(std::string_view text)
{
    return detail::Parser(text).parseDocument();
}

inline std::string serialize(const Value &v)
{
    std::string out;
    detail::write(out, v);
    return out;
}

} // namespace offload::json
