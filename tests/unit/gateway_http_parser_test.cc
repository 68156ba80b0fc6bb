// The gateway's HTTP/1.1 parsers: heads, framing facts, chunked delimiting, limits.
#include <gtest/gtest.h>

#include <string>

#include "gateway/http_parser.h"

namespace skiff::gateway {
namespace {

TEST(GatewayHttpParser, ParsesRequestHeadInPlace) {
  std::string raw =
      "GET /api/x?y=1 HTTP/1.1\r\nHost: Shop.Localhost:8080\r\nX-Request-Id: abc\r\n"
      "Accept:  */*  \r\n\r\n";
  RequestHead head;
  ParseError err;
  ASSERT_EQ(parseRequest(raw, head, err), ParseStatus::kComplete);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/api/x?y=1");
  EXPECT_EQ(head.version_minor, 1);
  ASSERT_EQ(head.header_count, 3u);
  EXPECT_EQ(head.headers[2].value, "*/*");  // optional whitespace trimmed
  EXPECT_EQ(head.facts.host, "Shop.Localhost:8080");
  EXPECT_EQ(head.facts.request_id, "abc");
  EXPECT_EQ(head.facts.body, BodyKind::kNone);
  EXPECT_TRUE(head.facts.keep_alive);
  EXPECT_EQ(head.head_size, raw.size());
  // Views point into the caller's buffer: no copies.
  EXPECT_EQ(head.method.data(), raw.data());
}

TEST(GatewayHttpParser, IncompleteUntilBlankLineAcrossReads) {
  std::string raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
  HeadScanner scanner;
  std::string got;
  size_t size = 0;
  for (char c : raw) {
    got += c;
    size = scanner.find(got);
    if (size) break;
  }
  ASSERT_EQ(size, raw.size() - 3);
  RequestHead head;
  ParseError err;
  ASSERT_EQ(parseRequestHead(got, size, head, err), ParseStatus::kComplete);
  EXPECT_EQ(head.facts.body, BodyKind::kLength);
  EXPECT_EQ(head.facts.content_length, 3u);
}

TEST(GatewayHttpParser, PipelinedRequestsParseOneAfterAnother) {
  std::string raw =
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
      "chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string_view rest = raw;
  std::vector<std::string> targets;
  while (!rest.empty()) {
    RequestHead head;
    ParseError err;
    ASSERT_EQ(parseRequest(rest, head, err), ParseStatus::kComplete) << err.message;
    targets.emplace_back(head.target);
    rest.remove_prefix(head.head_size);
    if (head.facts.body == BodyKind::kChunked) {
      ChunkedScanner chunked;
      size_t used = chunked.feed(rest);
      ASSERT_TRUE(chunked.done());
      EXPECT_EQ(chunked.bodyBytes(), 3u);
      rest.remove_prefix(used);
    }
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"/a", "/b", "/c"}));
}

TEST(GatewayHttpParser, ChunkedScannerHandlesAnySplitExtensionsAndTrailers) {
  std::string body =
      "4;ext=1\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n";
  for (size_t split = 0; split <= body.size(); ++split) {
    ChunkedScanner scanner;
    size_t a = scanner.feed(std::string_view(body).substr(0, split));
    ASSERT_EQ(a, split);
    ASSERT_FALSE(scanner.error());
    size_t b = scanner.feed(body.substr(split) + "NEXT");
    EXPECT_TRUE(scanner.done()) << split;
    EXPECT_EQ(a + b, body.size()) << split;  // "NEXT" is left for the next message
    EXPECT_EQ(scanner.bodyBytes(), 23u);
  }
}

TEST(GatewayHttpParser, ChunkedScannerRejectsMalformed) {
  for (std::string bad : {"x\r\n", "5\r\nabcdeX", "1234567890abcdef0\r\n", "\r\n", "0\r\n\n"}) {
    ChunkedScanner scanner;
    scanner.feed(bad);
    EXPECT_TRUE(scanner.error()) << bad;
  }
}

struct BadCase {
  std::string raw;
  int status;
};

TEST(GatewayHttpParser, RejectsMalformedRequests) {
  std::vector<BadCase> cases = {
      {"GET / HTTP/1.1\r\n\r\n", 400},                                    // no Host
      {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},                         // version
      {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},                        // double space
      {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},                         // bad method
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},                        // space before colon
      {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},              // obs-fold
      {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", 400},             // control char
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},              // two hosts
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400},  // bad length
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
       400},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"GET / HTTP/1.1\nHost: a\r\n\r\n", 400},  // bare LF
  };
  for (const auto& c : cases) {
    RequestHead head;
    ParseError err;
    EXPECT_EQ(parseRequest(c.raw, head, err), ParseStatus::kError) << c.raw;
    EXPECT_EQ(err.http_status, c.status) << c.raw;
  }
}

TEST(GatewayHttpParser, LimitsHeadSizeAndHeaderCount) {
  std::string huge = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(kMaxHeadBytes, 'a');
  RequestHead head;
  ParseError err;
  EXPECT_EQ(parseRequest(huge, head, err), ParseStatus::kError);
  EXPECT_EQ(err.http_status, 431);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (size_t i = 0; i < kMaxHeaders + 1; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  many += "\r\n";
  EXPECT_EQ(parseRequest(many, head, err), ParseStatus::kError);
  EXPECT_EQ(err.http_status, 431);
}

TEST(GatewayHttpParser, ConnectionSemantics) {
  RequestHead head;
  ParseError err;
  ASSERT_EQ(parseRequest("GET / HTTP/1.0\r\n\r\n", head, err), ParseStatus::kComplete);
  EXPECT_FALSE(head.facts.keep_alive);
  ASSERT_EQ(parseRequest("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", head, err),
            ParseStatus::kComplete);
  EXPECT_TRUE(head.facts.keep_alive);
  ASSERT_EQ(
      parseRequest("GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Foo\r\n\r\n", head, err),
      ParseStatus::kComplete);
  EXPECT_FALSE(head.facts.keep_alive);
  EXPECT_TRUE(listContainsToken(head.facts.connection_tokens, "x-foo"));
  EXPECT_TRUE(isHopByHop("Keep-Alive"));
  EXPECT_FALSE(isHopByHop("Transfer-Encoding"));
}

TEST(GatewayHttpParser, ResponseFraming) {
  ResponseHead head;
  ParseError err;
  ASSERT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", head, err),
            ParseStatus::kComplete);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.reason, "OK");
  EXPECT_EQ(head.facts.body, BodyKind::kLength);
  EXPECT_TRUE(head.facts.keep_alive);
  ASSERT_EQ(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "GET",
                          head, err),
            ParseStatus::kComplete);
  EXPECT_EQ(head.facts.body, BodyKind::kChunked);
  ASSERT_EQ(parseResponse("HTTP/1.1 200 OK\r\n\r\n", "GET", head, err), ParseStatus::kComplete);
  EXPECT_EQ(head.facts.body, BodyKind::kUntilClose);
  EXPECT_FALSE(head.facts.keep_alive);
  ASSERT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", head, err),
            ParseStatus::kComplete);
  EXPECT_EQ(head.facts.body, BodyKind::kNone);
  ASSERT_EQ(parseResponse("HTTP/1.1 304 Not Modified\r\n\r\n", "GET", head, err),
            ParseStatus::kComplete);
  EXPECT_EQ(head.facts.body, BodyKind::kNone);
  EXPECT_TRUE(head.facts.keep_alive);
  ASSERT_EQ(parseResponse("HTTP/1.1 204\r\n\r\n", "GET", head, err), ParseStatus::kComplete);
  EXPECT_EQ(head.reason, "");
  EXPECT_EQ(parseResponse("HTTP/1.1 2x0 OK\r\n\r\n", "GET", head, err), ParseStatus::kError);
  EXPECT_EQ(err.http_status, 502);
  EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Le", "GET", head, err),
            ParseStatus::kIncomplete);
}

}  // namespace
}  // namespace skiff::gateway
