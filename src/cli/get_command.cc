// `skiff get KIND [NAME]`: tables per kind, or the objects as JSON, YAML or names; with
// --watch, the current objects and then one line per change until interrupted.
#include <chrono>
#include <ostream>

#include "cli/output.h"
#include "cli/resource_table.h"
#include "cli/subcommands.h"
#include "model/codec.h"

namespace skiff::cli {

namespace {

enum class Format { kTable, kWide, kJson, kYaml, kName };

Result<Format> parseFormat(const std::string& output) {
  if (output.empty()) return Format::kTable;
  if (output == "wide") return Format::kWide;
  if (output == "json") return Format::kJson;
  if (output == "yaml") return Format::kYaml;
  if (output == "name") return Format::kName;
  return badRequest("unknown output format \"" + output + "\": use json, yaml, wide or name");
}

// Prints objects one at a time in `format`, as both a plain get and a watch do.
class ObjectPrinter {
 public:
  ObjectPrinter(std::ostream& out, const KindInfo& kind, Format format, bool all_tenants)
      : out_(out),
        kind_(kind),
        format_(format),
        columns_(kind, all_tenants, format == Format::kWide),
        table_(columns_.headers()) {}

  bool tabular() const { return format_ == Format::kTable || format_ == Format::kWide; }

  // Objects known before any is printed: they size the table's columns.
  void addInitial(const json& object) {
    if (tabular())
      table_.addRow(columns_.row(object, std::chrono::system_clock::now()));
    else
      print(object);
  }

  void flushInitial() {
    if (tabular() && !table_.empty()) {
      out_ << table_.render();
      header_printed_ = true;
    }
    out_ << std::flush;
  }

  void print(const json& object) {
    switch (format_) {
      case Format::kTable:
      case Format::kWide:
        if (!header_printed_) {
          out_ << table_.renderHeader();
          header_printed_ = true;
        }
        out_ << table_.renderLine(columns_.row(object, std::chrono::system_clock::now()));
        break;
      case Format::kJson:
        out_ << object.dump(2) << "\n";
        break;
      case Format::kYaml:
        out_ << "---\n" << toYaml(object);
        break;
      case Format::kName:
        out_ << objectRef(kind_, metadataString(object, "name")) << "\n";
        break;
    }
    out_ << std::flush;
  }

 private:
  std::ostream& out_;
  const KindInfo& kind_;
  const Format format_;
  const ResourceTable columns_;
  Table table_;
  bool header_printed_ = false;
};

std::string noneFound(const KindInfo& kind, const GetOptions& options) {
  std::string text = std::string("No ") + kind.plural + " found";
  if (kind.scope == Scope::kTenant && !options.all_tenants)
    text += " in tenant " + options.tenant.effective();
  return text + ".\n";
}

int printOnce(CommandContext& ctx, const KindInfo& kind, Format format, const GetOptions& options,
              const ListQuery& query) {
  json doc;
  if (!options.name.empty()) {
    auto got = ctx.client.get({&kind, options.tenant.effective(), options.name});
    if (!got.ok()) return reportError(ctx.err, got.status());
    doc = std::move(got).value();
  } else {
    auto listed = ctx.client.list(query);
    if (!listed.ok()) return reportError(ctx.err, listed.status());
    doc = std::move(listed).value();
  }
  // A single object or a whole List document, as kubectl prints them.
  if (format == Format::kJson) {
    ctx.out << doc.dump(2) << "\n";
    return 0;
  }
  if (format == Format::kYaml) {
    ctx.out << toYaml(doc);
    return 0;
  }
  const json items = options.name.empty() ? doc.value("items", json::array()) : json::array({doc});
  if (items.empty()) {
    ctx.err << noneFound(kind, options);
    return 0;
  }
  ObjectPrinter printer(ctx.out, kind, format, options.all_tenants);
  for (const auto& item : items) printer.addInitial(item);
  printer.flushInitial();
  return 0;
}

int watch(CommandContext& ctx, const KindInfo& kind, Format format, const GetOptions& options,
          const ListQuery& query) {
  auto listed = ctx.client.list(query);
  if (!listed.ok()) return reportError(ctx.err, listed.status());
  auto wanted = [&](const json& object) {
    return options.name.empty() || metadataString(object, "name") == options.name;
  };
  ObjectPrinter printer(ctx.out, kind, format, options.all_tenants);
  bool found = false;
  for (const auto& item : listed->value("items", json::array())) {
    if (!wanted(item)) continue;
    found = true;
    printer.addInitial(item);
  }
  if (!found && !options.name.empty()) {
    // Watching one object that does not exist is a mistake worth the server's own message.
    auto got = ctx.client.get({&kind, options.tenant.effective(), options.name});
    if (!got.ok()) return reportError(ctx.err, got.status());
  }
  printer.flushInitial();

  const json rv = (*listed)["metadata"].value("resourceVersion", json());
  std::optional<int64_t> from;
  if (rv.is_number_integer()) from = rv.get<int64_t>();
  Status s = ctx.client.watch(query, from, [&](const json& event) {
    if (event.value("type", "") == "BOOKMARK") return true;
    const json object = event.value("object", json());
    if (object.is_object() && wanted(object)) printer.print(object);
    return true;
  });
  if (!s.isOk()) return reportError(ctx.err, s);
  return 0;
}

}  // namespace

int runGet(CommandContext& ctx, const GetOptions& options) {
  auto kind = resolveKind(options.kind);
  if (!kind.ok()) return reportError(ctx.err, kind.status());
  auto format = parseFormat(options.output);
  if (!format.ok()) return reportError(ctx.err, format.status());
  if (!options.name.empty() && !options.selector.empty())
    return reportError(ctx.err, badRequest("a NAME and --selector cannot be combined: give one"));
  if (!options.name.empty() && options.all_tenants)
    return reportError(ctx.err,
                       badRequest("a NAME and --all-tenants cannot be combined: name the tenant "
                                  "with --tenant"));
  ListQuery query{*kind, options.tenant.effective(), options.all_tenants, options.selector};
  return options.watch ? watch(ctx, **kind, *format, options, query)
                       : printOnce(ctx, **kind, *format, options, query);
}

}  // namespace skiff::cli
