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
  stored->kind = std::move(object.kind);
  stored->metadata = std::move(object.metadata);
  return stored;
}

Object StoredObject::object() const {
  Result<Object> parsed = objectFromJson(json::parse(jsonText()));
  SKIFF_ASSERT(parsed.ok(), "a stored object does not parse: " + parsed.status().toString());
  return std::move(parsed).value();
}

std::shared_ptr<const Object> parsedObject(const StoredObjectPtr& snapshot) {
  // Only the common kinds that hold no credentials: a snapshot in the ring outlives its object.
  if (!packsAgainstADictionary(snapshot->kind))
    return std::make_shared<const Object>(snapshot->object());
  // A ring of the last snapshots parsed. An entry holds its snapshot, so no other snapshot can
  // take its address while it is here: the address identifies it. Never destroyed, so threads
  // still running at exit find it intact.
  struct Entry {
    StoredObjectPtr snapshot;
    std::shared_ptr<const Object> parsed;
  };
  struct Ring {
    std::mutex mu;
    std::array<Entry, 64> entries;
    size_t next = 0;
    std::shared_ptr<const Object> find(const StoredObjectPtr& snapshot) const {
      for (const Entry& e : entries)
        if (e.snapshot == snapshot) return e.parsed;
      return nullptr;
    }
  };
  static Ring* ring = new Ring;
  {
    std::lock_guard lock(ring->mu);
    if (auto hit = ring->find(snapshot)) return hit;
  }
  auto parsed = std::make_shared<const Object>(snapshot->object());  // outside the lock
  std::lock_guard lock(ring->mu);
  if (auto raced = ring->find(snapshot)) return raced;  // parsed meanwhile by another reader
  ring->entries[ring->next] = {snapshot, parsed};
  ring->next = (ring->next + 1) % ring->entries.size();
  return parsed;
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
