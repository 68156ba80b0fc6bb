#include "gateway/certificate_store.h"

#include <boost/asio/ssl/context.hpp>
#include <nlohmann/json.hpp>

#include "net/tls.h"

namespace skiff::gateway {
namespace {

using nlohmann::json;

std::string lowercaseName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

// A DNS name, or "*." followed by one: what a route's certificate may be for.
bool isCertificateHost(const std::string& host) {
  std::string_view name = host;
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  return true;
}

}  // namespace

CertificateStore::CertificateStore(std::vector<Certificate> certificates)
    : certificates_(std::move(certificates)) {
  for (size_t i = 0; i < certificates_.size(); ++i) by_host_.emplace(certificates_[i].host, i);
}

const Certificate* CertificateStore::find(std::string_view server_name) const {
  if (certificates_.empty()) return nullptr;
  const std::string name = lowercaseName(server_name);
  if (auto it = by_host_.find(name); it != by_host_.end()) return &certificates_[it->second];
  size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return nullptr;
  if (auto it = by_host_.find("*" + name.substr(dot)); it != by_host_.end())
    return &certificates_[it->second];
  return nullptr;
}

std::string CertificateStore::json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const Certificate& c : certificates_)
    out.push_back({{"host", c.host}, {"fingerprint", c.fingerprint}});
  return out.dump();
}

Result<std::shared_ptr<const CertificateStore>> parseCertificates(const json& certificates) {
  if (!certificates.is_array())
    return Status(StatusCode::kInvalid, "the certificates are invalid",
                  {{"certificates", "must be an array"}});
  std::vector<Certificate> parsed;
  std::vector<FieldError> errors;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < certificates.size(); ++i) {
    const json& entry = certificates[i];
    const std::string path = "certificates[" + std::to_string(i) + "]";
    if (!entry.is_object()) {
      errors.push_back({path, "must be an object with host, certificate and key"});
      continue;
    }
    bool complete = true;
    for (const char* field : {"host", "certificate", "key"}) {
      auto it = entry.find(field);
      if (it == entry.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
        errors.push_back({path + "." + field, "is required (a non-empty string)"});
        complete = false;
      }
    }
    if (!complete) continue;
    Certificate cert;
    cert.host = lowercaseName(entry["host"].get_ref<const std::string&>());
    if (!isCertificateHost(cert.host)) {
      errors.push_back({path + ".host", "must be a DNS name or \"*.\" and one, got \"" +
                                            entry["host"].get<std::string>() + "\""});
      continue;
    }
    if (auto [it, added] = seen.emplace(cert.host, i); !added) {
      errors.push_back({path + ".host", "host \"" + cert.host + "\" has a certificate already (" +
                                            "certificates[" + std::to_string(it->second) + "])"});
      continue;
    }
    const std::string& pem = entry["certificate"].get_ref<const std::string&>();
    auto context =
        net::makeServerTlsContextFromPem(pem, entry["key"].get_ref<const std::string&>());
    if (!context.ok()) {
      // The key-related messages belong to the key field; the rest to the certificate.
      const std::string& message = context.status().message();
      const bool about_key = message.starts_with("the key");
      errors.push_back({path + (about_key ? ".key" : ".certificate"), message});
      continue;
    }
    auto fingerprint = net::certificateFingerprintOfPem(pem);
    if (!fingerprint.ok()) {
      errors.push_back({path + ".certificate", fingerprint.status().message()});
      continue;
    }
    cert.fingerprint = std::move(fingerprint).value();
    cert.context = std::move(context).value();
    parsed.push_back(std::move(cert));
  }
  if (!errors.empty()) {
    std::string count =
        errors.size() == 1 ? "1 problem" : std::to_string(errors.size()) + " problems";
    return Status(StatusCode::kInvalid, "the certificates are invalid (" + count + ")",
                  std::move(errors));
  }
  return std::shared_ptr<const CertificateStore>(
      std::make_shared<CertificateStore>(std::move(parsed)));
}

}  // namespace skiff::gateway
