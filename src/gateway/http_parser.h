// The gateway's HTTP/1.1 message parsers: request and response heads, and a scanner that finds
// where a chunked body ends.
//
// They are built for a proxy: a head is parsed in place, every name and value is a
// std::string_view into the caller's buffer (no allocation per header), and a chunked body is
// not decoded but only delimited, so the proxy forwards the bytes it received unchanged. The
// caller owns the buffer and must keep it unchanged while it uses a parsed head.
//
// HeadScanner remembers how far it has looked for the end of a head, so feeding a head that
// arrives in many small reads costs linear time. All types are plain values, not thread-safe;
// each connection owns its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace skiff::gateway {

// Anything bigger is answered with 431 (requests) or 502 (responses from a backend).
inline constexpr size_t kMaxHeadBytes = 32 * 1024;
inline constexpr size_t kMaxHeaders = 100;

struct HttpHeader {
  std::string_view name;
  std::string_view value;
};

enum class ParseStatus { kIncomplete, kComplete, kError };

// Why a message was rejected: the HTTP status to answer with and a short message for people.
struct ParseError {
  int http_status = 0;
  const char* message = "";
};

// How the body of a message is delimited (RFC 9112 section 6).
enum class BodyKind { kNone, kLength, kChunked, kUntilClose };

// Facts about a head the proxy needs, found in one pass over its headers.
struct HeadFacts {
  BodyKind body = BodyKind::kNone;
  uint64_t content_length = 0;
  bool keep_alive = true;  // after Connection and the HTTP version are taken into account
  bool expect_continue = false;
  std::string_view host;        // empty when absent
  std::string_view request_id;  // X-Request-Id, empty when absent
  std::string_view forwarded_for;
  // Header names listed in Connection (other than close/keep-alive): hop-by-hop as well.
  std::string_view connection_tokens;
};

struct RequestHead {
  std::string_view method;
  std::string_view target;
  int version_minor = 1;
  HttpHeader headers[kMaxHeaders];
  size_t header_count = 0;
  size_t head_size = 0;  // bytes up to and including the blank line
  HeadFacts facts;
};

struct ResponseHead {
  int version_minor = 1;
  int status = 0;
  std::string_view reason;
  HttpHeader headers[kMaxHeaders];
  size_t header_count = 0;
  size_t head_size = 0;
  HeadFacts facts;
};

// Finds the end of a head ("\r\n\r\n") across reads without rescanning.
class HeadScanner {
 public:
  // `data` is everything received so far for this head (a prefix that grows). Returns the
  // head's size including the blank line, or 0 when it has not arrived yet.
  size_t find(std::string_view data);
  void reset() { scanned_ = 0; }

 private:
  size_t scanned_ = 0;
};

// Parse a complete head (`data` holds at least the whole head; the scanner found its end).
// On kError, `error` says why. Body framing and connection facts are filled in `out.facts`;
// for requests a conflicting or invalid framing is an error (a smuggling defence).
ParseStatus parseRequestHead(std::string_view data, size_t head_size, RequestHead& out,
                             ParseError& error);
// `request_method` decides whether the response can have a body (HEAD never has one).
ParseStatus parseResponseHead(std::string_view data, size_t head_size,
                              std::string_view request_method, ResponseHead& out,
                              ParseError& error);

// Convenience for tests and the admin server: scan + parse in one call.
ParseStatus parseRequest(std::string_view data, RequestHead& out, ParseError& error);
ParseStatus parseResponse(std::string_view data, std::string_view request_method, ResponseHead& out,
                          ParseError& error);

// Delimits a chunked body. Feed it the bytes that follow the head, in any split; it reports how
// many of them belong to the body, so whatever follows (a pipelined request) stays untouched.
class ChunkedScanner {
 public:
  // Returns how many bytes of `data` belong to the body. After that, done() or error() may hold;
  // when neither does, all of `data` was consumed and more is needed.
  size_t feed(std::string_view data);
  bool done() const { return state_ == State::kDone; }
  bool error() const { return state_ == State::kError; }
  // Sum of the chunk sizes seen so far (the decoded body size).
  uint64_t bodyBytes() const { return body_bytes_; }
  void reset() { *this = ChunkedScanner(); }

 private:
  enum class State {
    kSize,
    kExtension,
    kSizeLf,
    kData,
    kDataCr,
    kDataLf,
    kTrailerLineStart,
    kTrailerLine,
    kTrailerLf,
    kFinalLf,
    kDone,
    kError,
  };
  State state_ = State::kSize;
  uint64_t chunk_left_ = 0;
  uint64_t body_bytes_ = 0;
  int size_digits_ = 0;
  size_t side_bytes_ = 0;  // extension + trailer bytes, bounded
};

// Case-insensitive ASCII comparison, for header names and tokens.
bool equalsIgnoreCase(std::string_view a, std::string_view b);
// True for the hop-by-hop headers a proxy must not forward (RFC 9110 section 7.6.1), except
// Transfer-Encoding, which the gateway keeps because it forwards chunked bodies unchanged.
bool isHopByHop(std::string_view name);
// True when `name` is one of the comma-separated tokens in `tokens`.
bool listContainsToken(std::string_view tokens, std::string_view name);

}  // namespace skiff::gateway
