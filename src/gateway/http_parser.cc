#include "gateway/http_parser.h"

#include <cstring>

namespace skiff::gateway {
namespace {

// RFC 9110 tchar, as a table: the parsers look at every byte of names and methods.
struct CharTables {
  bool tchar[256] = {};
  bool value[256] = {};  // field-vchar, SP and HTAB; obs-text allowed
  bool target[256] = {};
  constexpr CharTables() {
    for (int c = 0; c < 256; ++c) {
      bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      tchar[c] =
          alnum || (c != 0 && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                  std::string_view::npos);
      value[c] = c == '\t' || (c >= 0x20 && c != 0x7f);
      target[c] = c > 0x20 && c != 0x7f;
    }
  }
};
constexpr CharTables kChars;

inline unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parseDecimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 18) return false;  // 18 digits cannot overflow uint64_t
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

// The last transfer coding in a Transfer-Encoding value ("gzip, chunked" -> "chunked").
std::string_view lastCoding(std::string_view te) {
  size_t comma = te.rfind(',');
  return trimOws(comma == std::string_view::npos ? te : te.substr(comma + 1));
}

// Parses "name: value\r\n" lines from `p` up to `end` (which points at the final "\r\n").
// Returns false with `error` set on malformed input.
bool parseHeaderLines(const char* p, const char* end, HttpHeader* headers, size_t& count,
                      ParseError& error) {
  count = 0;
  while (p < end) {
    const char* name_begin = p;
    while (p < end && kChars.tchar[static_cast<unsigned char>(*p)]) ++p;
    if (p == end || *p != ':' || p == name_begin) {
      // Also rejects obs-fold (a line starting with whitespace) and space before the colon.
      error = {400, "malformed header line"};
      return false;
    }
    std::string_view name(name_begin, static_cast<size_t>(p - name_begin));
    ++p;
    const char* value_begin = p;
    const char* cr =
        static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p) + 1));
    if (cr == nullptr || cr[1] != '\n') {
      error = {400, "header line not terminated by CRLF"};
      return false;
    }
    for (const char* q = value_begin; q < cr; ++q) {
      if (!kChars.value[static_cast<unsigned char>(*q)]) {
        error = {400, "invalid character in header value"};
        return false;
      }
    }
    if (count == kMaxHeaders) {
      error = {431, "too many header fields"};
      return false;
    }
    headers[count++] = {
        name, trimOws(std::string_view(value_begin, static_cast<size_t>(cr - value_begin)))};
    p = cr + 2;
  }
  return true;
}

enum class Side { kRequest, kResponse };

bool computeFacts(const HttpHeader* headers, size_t count, int version_minor, Side side,
                  HeadFacts& facts, ParseError& error) {
  facts = HeadFacts{};
  bool have_length = false;
  bool have_te = false;
  bool saw_close = false;
  bool saw_keep_alive = false;
  std::string_view te;
  for (size_t i = 0; i < count; ++i) {
    std::string_view name = headers[i].name;
    std::string_view value = headers[i].value;
    // Dispatch on length first: most headers are rejected by one integer compare.
    switch (name.size()) {
      case 4:
        if (equalsIgnoreCase(name, "host")) {
          if (!facts.host.empty() && side == Side::kRequest) {
            error = {400, "more than one Host header"};
            return false;
          }
          facts.host = value;
        }
        break;
      case 6:
        if (equalsIgnoreCase(name, "expect"))
          facts.expect_continue = equalsIgnoreCase(value, "100-continue");
        break;
      case 10:
        if (equalsIgnoreCase(name, "connection")) {
          if (listContainsToken(value, "close")) saw_close = true;
          if (listContainsToken(value, "keep-alive")) saw_keep_alive = true;
          facts.connection_tokens = value;
        }
        break;
      case 12:
        if (equalsIgnoreCase(name, "x-request-id")) facts.request_id = value;
        break;
      case 14:
        if (equalsIgnoreCase(name, "content-length")) {
          uint64_t n = 0;
          if (!parseDecimal(value, n) || (have_length && n != facts.content_length)) {
            error = {400, "invalid Content-Length"};
            return false;
          }
          have_length = true;
          facts.content_length = n;
        }
        break;
      case 15:
        if (equalsIgnoreCase(name, "x-forwarded-for")) facts.forwarded_for = value;
        break;
      case 17:
        if (equalsIgnoreCase(name, "transfer-encoding")) {
          if (have_te) {
            error = {400, "more than one Transfer-Encoding header"};
            return false;
          }
          have_te = true;
          te = value;
        }
        break;
      default:
        break;
    }
  }
  facts.keep_alive = version_minor >= 1 ? !saw_close : (saw_keep_alive && !saw_close);
  if (side == Side::kRequest) {
    if (have_te) {
      // Only "chunked" alone is accepted: anything else cannot be delimited safely, and
      // Transfer-Encoding together with Content-Length is the classic smuggling vector.
      if (!equalsIgnoreCase(te, "chunked") || version_minor == 0) {
        error = {400, "unsupported Transfer-Encoding (only chunked)"};
        return false;
      }
      if (have_length) {
        error = {400, "both Transfer-Encoding and Content-Length"};
        return false;
      }
      facts.body = BodyKind::kChunked;
    } else if (have_length && facts.content_length > 0) {
      facts.body = BodyKind::kLength;
    }
    if (version_minor >= 1 && facts.host.empty()) {
      error = {400, "missing Host header"};
      return false;
    }
  } else {
    if (have_te) {
      facts.body =
          equalsIgnoreCase(lastCoding(te), "chunked") ? BodyKind::kChunked : BodyKind::kUntilClose;
      // A response with both is ambiguous; never reuse the connection after it.
      if (have_length) facts.keep_alive = false;
    } else if (have_length) {
      facts.body = facts.content_length > 0 ? BodyKind::kLength : BodyKind::kNone;
    } else {
      facts.body = BodyKind::kUntilClose;
      facts.keep_alive = false;
    }
  }
  return true;
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool listContainsToken(std::string_view tokens, std::string_view name) {
  while (!tokens.empty()) {
    size_t comma = tokens.find(',');
    std::string_view token = trimOws(tokens.substr(0, comma));
    if (equalsIgnoreCase(token, name)) return true;
    if (comma == std::string_view::npos) break;
    tokens.remove_prefix(comma + 1);
  }
  return false;
}

bool isHopByHop(std::string_view name) {
  switch (name.size()) {
    case 2:
      return equalsIgnoreCase(name, "te");
    case 7:
      return equalsIgnoreCase(name, "trailer") || equalsIgnoreCase(name, "upgrade");
    case 10:
      return equalsIgnoreCase(name, "connection") || equalsIgnoreCase(name, "keep-alive");
    case 16:
      return equalsIgnoreCase(name, "proxy-connection");
    case 18:
      return equalsIgnoreCase(name, "proxy-authenticate");
    case 19:
      return equalsIgnoreCase(name, "proxy-authorization");
    default:
      return false;
  }
}

size_t HeadScanner::find(std::string_view data) {
  size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
  if (data.size() < from + 4) return 0;
  const void* hit = memmem(data.data() + from, data.size() - from, "\r\n\r\n", 4);
  if (hit == nullptr) {
    scanned_ = data.size();
    return 0;
  }
  return static_cast<size_t>(static_cast<const char*>(hit) - data.data()) + 4;
}

ParseStatus parseRequestHead(std::string_view data, size_t head_size, RequestHead& out,
                             ParseError& error) {
  const char* p = data.data();
  const char* head_end = p + head_size - 2;  // at the final CRLF
  // Tolerate empty lines before a request (RFC 9112 section 2.2), e.g. after a body's CRLF.
  while (p + 1 < head_end && p[0] == '\r' && p[1] == '\n') p += 2;
  const char* line_end =
      static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(head_end - p) + 1));
  if (line_end == nullptr || line_end[1] != '\n') {
    error = {400, "malformed request line"};
    return ParseStatus::kError;
  }
  const char* q = p;
  while (q < line_end && kChars.tchar[static_cast<unsigned char>(*q)]) ++q;
  if (q == p || q == line_end || *q != ' ') {
    error = {400, "malformed request method"};
    return ParseStatus::kError;
  }
  out.method = std::string_view(p, static_cast<size_t>(q - p));
  const char* t = ++q;
  while (q < line_end && kChars.target[static_cast<unsigned char>(*q)]) ++q;
  if (q == t || q == line_end || *q != ' ') {
    error = {400, "malformed request target"};
    return ParseStatus::kError;
  }
  out.target = std::string_view(t, static_cast<size_t>(q - t));
  ++q;
  if (line_end - q != 8 || std::memcmp(q, "HTTP/", 5) != 0) {
    error = {400, "malformed request line"};
    return ParseStatus::kError;
  }
  if (std::memcmp(q, "HTTP/1.", 7) != 0 || (q[7] != '0' && q[7] != '1')) {
    error = {505, "unsupported HTTP version (HTTP/1.0 and HTTP/1.1 only)"};
    return ParseStatus::kError;
  }
  out.version_minor = q[7] - '0';
  if (!parseHeaderLines(line_end + 2, head_end, out.headers, out.header_count, error))
    return ParseStatus::kError;
  out.head_size = head_size;
  if (!computeFacts(out.headers, out.header_count, out.version_minor, Side::kRequest, out.facts,
                    error))
    return ParseStatus::kError;
  return ParseStatus::kComplete;
}

ParseStatus parseResponseHead(std::string_view data, size_t head_size,
                              std::string_view request_method, ResponseHead& out,
                              ParseError& error) {
  const char* p = data.data();
  const char* head_end = p + head_size - 2;
  const char* line_end =
      static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(head_end - p) + 1));
  if (line_end == nullptr || line_end[1] != '\n' || line_end - p < 12 ||
      std::memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ') {
    error = {502, "malformed status line from backend"};
    return ParseStatus::kError;
  }
  out.version_minor = p[7] - '0';
  int status = 0;
  for (int i = 9; i < 12; ++i) {
    if (p[i] < '0' || p[i] > '9') {
      error = {502, "malformed status code from backend"};
      return ParseStatus::kError;
    }
    status = status * 10 + (p[i] - '0');
  }
  if (status < 100 || (line_end - p > 12 && p[12] != ' ')) {
    error = {502, "malformed status code from backend"};
    return ParseStatus::kError;
  }
  out.status = status;
  out.reason = line_end - p > 13 ? std::string_view(p + 13, static_cast<size_t>(line_end - p - 13))
                                 : std::string_view();
  if (!parseHeaderLines(line_end + 2, head_end, out.headers, out.header_count, error)) {
    error.http_status = 502;
    return ParseStatus::kError;
  }
  out.head_size = head_size;
  if (!computeFacts(out.headers, out.header_count, out.version_minor, Side::kResponse, out.facts,
                    error)) {
    error.http_status = 502;
    return ParseStatus::kError;
  }
  if (status < 200 || status == 204 || status == 304 || request_method == "HEAD") {
    out.facts.body = BodyKind::kNone;
    // A 1xx/204/304 without framing headers is still reusable: it has no body by definition.
    if (status >= 200)
      out.facts.keep_alive =
          out.version_minor >= 1 && !listContainsToken(out.facts.connection_tokens, "close");
  }
  return ParseStatus::kComplete;
}

ParseStatus parseRequest(std::string_view data, RequestHead& out, ParseError& error) {
  HeadScanner scanner;
  size_t size = scanner.find(data);
  if (size == 0) {
    if (data.size() > kMaxHeadBytes) {
      error = {431, "request head too large"};
      return ParseStatus::kError;
    }
    return ParseStatus::kIncomplete;
  }
  if (size > kMaxHeadBytes) {
    error = {431, "request head too large"};
    return ParseStatus::kError;
  }
  return parseRequestHead(data, size, out, error);
}

ParseStatus parseResponse(std::string_view data, std::string_view request_method, ResponseHead& out,
                          ParseError& error) {
  HeadScanner scanner;
  size_t size = scanner.find(data);
  if (size == 0) {
    if (data.size() > kMaxHeadBytes) {
      error = {502, "response head from backend too large"};
      return ParseStatus::kError;
    }
    return ParseStatus::kIncomplete;
  }
  if (size > kMaxHeadBytes) {
    error = {502, "response head from backend too large"};
    return ParseStatus::kError;
  }
  return parseResponseHead(data, size, request_method, out, error);
}

size_t ChunkedScanner::feed(std::string_view data) {
  // Chunk extensions and trailers are forwarded but never interpreted; bound them so a
  // client cannot make the gateway scan forever without progress in the body.
  constexpr size_t kMaxSideBytes = 16 * 1024;
  size_t i = 0;
  const size_t n = data.size();
  while (i < n) {
    char c = data[i];
    switch (state_) {
      case State::kSize: {
        int digit = -1;
        if (c >= '0' && c <= '9')
          digit = c - '0';
        else if (c >= 'a' && c <= 'f')
          digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
          digit = c - 'A' + 10;
        if (digit >= 0) {
          if (++size_digits_ > 15) {
            state_ = State::kError;
            return i;
          }
          chunk_left_ = chunk_left_ * 16 + static_cast<uint64_t>(digit);
          ++i;
        } else if (size_digits_ == 0) {
          state_ = State::kError;
          return i;
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = State::kExtension;
          ++i;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
          ++i;
        } else {
          state_ = State::kError;
          return i;
        }
        break;
      }
      case State::kExtension:
        if (c == '\r')
          state_ = State::kSizeLf;
        else if (c == '\n' || ++side_bytes_ > kMaxSideBytes) {
          state_ = State::kError;
          return i;
        }
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') {
          state_ = State::kError;
          return i;
        }
        ++i;
        size_digits_ = 0;
        state_ = chunk_left_ == 0 ? State::kTrailerLineStart : State::kData;
        break;
      case State::kData: {
        uint64_t take = std::min<uint64_t>(chunk_left_, n - i);
        i += static_cast<size_t>(take);
        chunk_left_ -= take;
        body_bytes_ += take;
        if (chunk_left_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (c != '\r') {
          state_ = State::kError;
          return i;
        }
        ++i;
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (c != '\n') {
          state_ = State::kError;
          return i;
        }
        ++i;
        state_ = State::kSize;
        break;
      case State::kTrailerLineStart:
        ++i;
        if (c == '\r')
          state_ = State::kFinalLf;
        else if (c == '\n') {
          state_ = State::kError;
          return i - 1;
        } else
          state_ = State::kTrailerLine;
        break;
      case State::kTrailerLine:
        if (++side_bytes_ > kMaxSideBytes) {
          state_ = State::kError;
          return i;
        }
        if (c == '\r') state_ = State::kTrailerLf;
        ++i;
        break;
      case State::kTrailerLf:
        if (c != '\n') {
          state_ = State::kError;
          return i;
        }
        ++i;
        state_ = State::kTrailerLineStart;
        break;
      case State::kFinalLf:
        if (c != '\n') {
          state_ = State::kError;
          return i;
        }
        ++i;
        state_ = State::kDone;
        return i;
      case State::kDone:
      case State::kError:
        return i;
    }
  }
  return i;
}

}  // namespace skiff::gateway
