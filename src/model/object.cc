#include "model/object.h"

#include <array>
#include <mutex>

namespace skiff {
namespace {

// The kinds that come by the thousand and hold no credentials: their snapshots are packed
// against a dictionary. A dictionary is one object's text kept for the life of the process, so
// sensitive kinds never get one.
bool packsAgainstADictionary(const std::string& kind) {
  return kind == "Application" || kind == "Revision" || kind == "Instance" || kind == "Event" ||
         kind == "Volume";
}

// The dictionary for `kind`'s next snapshot, whose text is `text`. A kind gets one once it is
// common, and it is the text of that snapshot: objects of a kind share their field names,
// defaults and most values, so any one of them does. Until then none: a rare kind's dictionary
// would cost more than it saves. Thread-safe.
PackedText::Dictionary dictionaryFor(const std::string& kind, const std::string& text) {
  constexpr size_t kCommon = 64;
  if (!packsAgainstADictionary(kind)) return nullptr;
  struct Kind {
    size_t packed = 0;
    PackedText::Dictionary dictionary;
  };
  static std::mutex mu;
  static std::map<std::string, Kind> kinds;  // guarded by mu
  std::lock_guard lock(mu);
  Kind& k = kinds[kind];
  if (!k.dictionary && ++k.packed >= kCommon)
    k.dictionary = std::make_shared<const std::string>(text);
  return k.dictionary;
}

// The last snapshots parsed or written, with their objects: the controllers that each reconcile
// the same write, and the revision every reconcile of an application reads, share one object.
// Only the common kinds that hold no credentials: a snapshot here outlives its object. An entry
// holds its snapshot, so no other snapshot can take its address while it is here: the address
// identifies it. Thread-safe.
class ParsedRing {
 public:
  static ParsedRing& instance() {
    static ParsedRing* ring = new ParsedRing;  // never destroyed: threads may outlive main
    return *ring;
  }
  std::shared_ptr<const Object> find(const StoredObjectPtr& snapshot) {
    std::lock_guard lock(mu_);
    for (const Entry& e : entries_)
      if (e.snapshot == snapshot) return e.parsed;
    return nullptr;
  }
  // The object kept for `snapshot`: `parsed`, unless another reader's came first.
  std::shared_ptr<const Object> insert(const StoredObjectPtr& snapshot,
                                       std::shared_ptr<const Object> parsed) {
    std::lock_guard lock(mu_);
    for (const Entry& e : entries_)
      if (e.snapshot == snapshot) return e.parsed;
    entries_[next_] = {snapshot, parsed};
    next_ = (next_ + 1) % entries_.size();
    return parsed;
  }

 private:
  struct Entry {
    StoredObjectPtr snapshot;
    std::shared_ptr<const Object> parsed;
  };
  std::mutex mu_;
  std::array<Entry, 64> entries_;
  size_t next_ = 0;
};

}  // namespace

std::string ObjectKey::toString() const {
  return tenant.empty() ? kind + " " + name : kind + " " + tenant + "/" + name;
}

json Object::toJson() const {
  json meta = json::object();
  meta["name"] = metadata.name;
  if (!metadata.tenant.empty()) meta["tenant"] = metadata.tenant;
  if (!metadata.uid.empty()) meta["uid"] = metadata.uid;
  if (!metadata.labels.empty()) meta["labels"] = metadata.labels;
  if (!metadata.annotations.empty()) meta["annotations"] = metadata.annotations;
  if (metadata.resource_version != 0) meta["resourceVersion"] = metadata.resource_version;
  if (metadata.generation != 0) meta["generation"] = metadata.generation;
  if (!metadata.created_at.empty()) meta["createdAt"] = metadata.created_at;
  json out = {{"apiVersion", kApiVersion}, {"kind", kind}, {"metadata", std::move(meta)}};
  out["spec"] = spec;
  out["status"] = status;
  return out;
}

namespace {
template <class T>
void readField(const json& obj, const char* name, T* out) {
  auto it = obj.find(name);
  if (it != obj.end() && !it->is_null()) *out = it->get<T>();
}
}  // namespace

Result<Object> objectFromJson(const json& doc) {
  if (!doc.is_object()) return badRequest("an object must be a JSON object");
  try {
    Object o;
    readField(doc, "kind", &o.kind);
    if (auto m = doc.find("metadata"); m != doc.end() && m->is_object()) {
      readField(*m, "name", &o.metadata.name);
      readField(*m, "tenant", &o.metadata.tenant);
      readField(*m, "uid", &o.metadata.uid);
      readField(*m, "labels", &o.metadata.labels);
      readField(*m, "annotations", &o.metadata.annotations);
      readField(*m, "resourceVersion", &o.metadata.resource_version);
      readField(*m, "generation", &o.metadata.generation);
      readField(*m, "createdAt", &o.metadata.created_at);
    }
    if (auto s = doc.find("spec"); s != doc.end() && !s->is_null()) o.spec = *s;
    if (auto s = doc.find("status"); s != doc.end() && !s->is_null()) o.status = *s;
    return o;
  } catch (const json::exception& e) {
    return badRequest(std::string("malformed object envelope: ") + e.what());
  }
}

StoredObjectPtr makeStored(Object object, int64_t spec_revision) {
  auto stored = std::make_shared<StoredObject>();
  stored->spec_revision = spec_revision != 0 ? spec_revision : object.metadata.resource_version;
  const std::string text = object.toJson().dump();
  stored->packed_json = PackedText(text, dictionaryFor(object.kind, text));
  stored->kind = object.kind;
  stored->metadata = object.metadata;
  if (packsAgainstADictionary(stored->kind)) {
    // Its readers come next (the watchers of its kind): they find it parsed. As a parse of its
    // text would give it: a null spec or status reads back as an empty object.
    if (object.spec.is_null()) object.spec = json::object();
    if (object.status.is_null()) object.status = json::object();
    (void)ParsedRing::instance().insert(stored, std::make_shared<const Object>(std::move(object)));
  }
  return stored;
}

Object StoredObject::object() const {
  Result<Object> parsed = objectFromJson(json::parse(jsonText()));
  SKIFF_ASSERT(parsed.ok(), "a stored object does not parse: " + parsed.status().toString());
  return std::move(parsed).value();
}

std::shared_ptr<const Object> parsedObject(const StoredObjectPtr& snapshot) {
  if (!packsAgainstADictionary(snapshot->kind))
    return std::make_shared<const Object>(snapshot->object());
  if (auto kept = ParsedRing::instance().find(snapshot)) return kept;
  return ParsedRing::instance().insert(snapshot,
                                       std::make_shared<const Object>(snapshot->object()));
}

const json* findCondition(const json& status, const std::string& type) {
  auto it = status.find("conditions");
  if (it == status.end() || !it->is_array()) return nullptr;
  for (const auto& c : *it)
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

bool runsLocally(const json& spec) {
  const auto it = spec.find("cluster");
  if (it == spec.end() || !it->is_string()) return true;
  const std::string& cluster = it->get_ref<const std::string&>();
  return cluster.empty() || cluster == "local";
}

std::vector<std::string> stringsAt(const json& object, const char* key) {
  std::vector<std::string> out;
  if (!object.is_object()) return out;
  auto it = object.find(key);
  if (it == object.end() || !it->is_array()) return out;
  for (const json& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

void setCondition(json& status, const Condition& c, const std::string& now) {
  if (!status.is_object()) status = json::object();
  json& list = status["conditions"];
  if (!list.is_array()) list = json::array();
  json entry = {
      {"type", c.type},
      {"status", c.status},
      {"reason", c.reason},
      {"message", c.message},
      {"lastTransitionTime", c.last_transition_time.empty() ? now : c.last_transition_time}};
  for (auto& existing : list) {
    if (!existing.is_object() || existing.value("type", "") != c.type) continue;
    if (existing.value("status", "") == c.status && c.last_transition_time.empty())
      entry["lastTransitionTime"] = existing.value("lastTransitionTime", now);
    existing = std::move(entry);
    return;
  }
  list.push_back(std::move(entry));
}

}  // namespace skiff
