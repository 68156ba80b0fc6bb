// libFuzzer target for the gateway's HTTP/1.1 parsers: request heads, response heads and the
// chunked body scanner, fed the same bytes in two arbitrary splits. Checks that the parsers
// never read outside the input, that views stay inside it, and that splitting the input never
// changes the result. Build and run with scripts/fuzz-gateway.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/http_parser.h"
#include "gateway/route_table.h"

using namespace skiff::gateway;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view outer, std::string_view inner) {
  return inner.empty() || (inner.data() >= outer.data() &&
                           inner.data() + inner.size() <= outer.data() + outer.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  // A heap copy of exactly the input, so ASan catches any read past the end.
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view in(input);

  RequestHead req;
  ParseError err;
  ParseStatus st = parseRequest(in, req, err);
  if (st == ParseStatus::kComplete) {
    check(req.head_size <= in.size());
    check(inside(in, req.method) && inside(in, req.target));
    for (size_t i = 0; i < req.header_count; ++i)
      check(inside(in, req.headers[i].name) && inside(in, req.headers[i].value));
    // The incremental scanner must find the same head end when bytes arrive in two pieces.
    size_t split = (mode * 7u) % (in.size() + 1);
    HeadScanner scanner;
    size_t first = scanner.find(in.substr(0, split));
    size_t second = first ? first : scanner.find(in);
    check(second == req.head_size);
    if (req.facts.body == BodyKind::kChunked) {
      std::string_view body = in.substr(req.head_size);
      ChunkedScanner whole;
      size_t used_whole = whole.feed(body);
      check(used_whole <= body.size());
      ChunkedScanner parts;
      size_t cut = (mode * 13u) % (body.size() + 1);
      size_t used = parts.feed(body.substr(0, cut));
      if (!parts.done() && !parts.error()) used += parts.feed(body.substr(cut));
      check(parts.done() == whole.done() && parts.error() == whole.error());
      if (whole.done()) check(used == used_whole && parts.bodyBytes() == whole.bodyBytes());
    }
    // Route matching reads the same head; it must be safe for any host/target.
    static const auto table = parseRouteTable(
        R"({"version":1,"routes":[{"id":"a","host":"a.test","pathPrefix":"/api","backends":[]},)"
        R"({"id":"b","host":"*","pathPrefix":"/","match":{"headers":[{"name":"x","value":"y","type":"prefix"}]},"backends":[]}]})");
    (void)table.value()->match(req.facts.host, req.target, req.headers, req.header_count);
  } else if (st == ParseStatus::kError) {
    check(err.http_status >= 400 && err.http_status < 600);
  }

  ResponseHead resp;
  st = parseResponse(in, (mode & 1) ? "HEAD" : "GET", resp, err);
  if (st == ParseStatus::kComplete) {
    check(resp.head_size <= in.size() && resp.status >= 100 && resp.status <= 999);
    for (size_t i = 0; i < resp.header_count; ++i)
      check(inside(in, resp.headers[i].name) && inside(in, resp.headers[i].value));
  }

  // The chunked scanner on raw bytes, one byte at a time vs all at once.
  ChunkedScanner all;
  size_t used_all = all.feed(in);
  ChunkedScanner bytewise;
  size_t used_bytes = 0;
  for (size_t i = 0; i < in.size() && !bytewise.done() && !bytewise.error(); ++i)
    used_bytes += bytewise.feed(in.substr(i, 1));
  check(all.done() == bytewise.done() && all.error() == bytewise.error());
  if (all.done()) check(used_all == used_bytes);
  return 0;
}
