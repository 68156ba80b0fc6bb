// Human-readable output shared by the CLI commands: column-aligned tables in kubectl's style,
// ages ("5s", "3m", "2h", "4d") and the "kind.skiff.dev/name" way of naming an object.
// Plain values and pure functions; thread-compatible.
#pragma once

#include <chrono>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/kinds.h"
#include "model/object.h"

namespace skiff::cli {

// -o/--output of the commands that print a table or, with "json", the server's answer.
Status checkTableOutput(const std::string& output);

// For such a command, given the server's list answer: the items to print as a table, or
// nullopt when nothing is left to do: with -o json the answer is printed as it is, and an
// empty list is "No <what> found." on `err`.
std::optional<json> itemsForTable(const json& listed, const std::string& output, std::ostream& out,
                                  std::ostream& err, const std::string& what);

// A table printed with each column left-aligned to its widest cell and columns three spaces
// apart; the last column is not padded, so lines carry no trailing spaces.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

  // `cells` must have one entry per header.
  void addRow(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }

  // The header line and every row, each ending in a newline.
  std::string render() const;
  // One line laid out like render()'s, for rows printed one at a time (watch), using the
  // column widths of the rows added so far.
  std::string renderLine(const std::vector<std::string>& cells) const;
  std::string renderHeader() const { return renderLine(headers_); }

 private:
  std::vector<size_t> widths() const;
  static std::string layout(const std::vector<std::string>& cells,
                            const std::vector<size_t>& widths);

  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "5s", "3m", "2h", "4d": the largest whole unit, as kubectl shows ages. Negative durations
// (clock skew between client and server) show as "0s".
std::string formatAge(std::chrono::seconds age);

// The age of an RFC 3339 timestamp (metadata.createdAt) at `now`; "<unknown>" if unparsable.
std::string ageOf(const std::string& timestamp, std::chrono::system_clock::time_point now);

// "application": the kind as it appears in object references and diff paths.
std::string lowercaseKind(const KindInfo& kind);

// "application.skiff.dev/shop": how apply, delete and `get -o name` name an object.
std::string objectRef(const KindInfo& kind, const std::string& name);

// "a=1,b=2", or "<none>" when empty.
std::string formatLabels(const std::map<std::string, std::string>& labels);

// A JSON value as the CLI shows it in a cell: strings unquoted, null/missing as "-".
std::string cellText(const json& value);

}  // namespace skiff::cli
