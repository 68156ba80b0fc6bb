#include "auth/ldap.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ldap.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>

namespace skiff {
namespace {

// ---- Escaping ------------------------------------------------------------------------------

TEST(LdapEscapingTest, FilterValuesLoseEveryCharacterWithMeaningInAFilter) {
  EXPECT_EQ(escapeLdapFilterValue("alice"), "alice");
  EXPECT_EQ(escapeLdapFilterValue("j\xc3\xb6rg.o-b_1@x"), "j\xc3\xb6rg.o-b_1@x");
  EXPECT_EQ(escapeLdapFilterValue("*"), "\\2a");
  EXPECT_EQ(escapeLdapFilterValue(")(uid=*"), "\\29\\28uid=\\2a");
  EXPECT_EQ(escapeLdapFilterValue("a\\2a"), "a\\5c2a");
  EXPECT_EQ(escapeLdapFilterValue(std::string("a\0b", 3)), "a\\00b");
  EXPECT_EQ(escapeLdapFilterValue("a\nb"), "a\\0ab");
}

TEST(LdapEscapingTest, AnInjectedFilterStaysOneAssertion) {
  for (const std::string attack :
       {"*", ")(uid=*", "alice)(|(uid=*", "*)(objectClass=*))(|(uid=*", "ali*", "\\29"}) {
    const std::string filter = "(uid=" + escapeLdapFilterValue(attack) + ")";
    // Only the enclosing parentheses remain, and every backslash starts a two-digit escape.
    EXPECT_EQ(filter.find_first_of("()*", 1), filter.size() - 1) << filter;
    for (size_t i = filter.find('\\'); i != std::string::npos; i = filter.find('\\', i + 1)) {
      ASSERT_LT(i + 2, filter.size()) << filter;
      EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(filter[i + 1])) &&
                  std::isxdigit(static_cast<unsigned char>(filter[i + 2])))
          << filter;
    }
  }
}

TEST(LdapEscapingTest, DnValuesEscapeSpecialsAndEdgeSpaces) {
  EXPECT_EQ(escapeLdapDnValue("alice"), "alice");
  EXPECT_EQ(escapeLdapDnValue("a,ou=admins"), "a\\,ou\\=admins");
  EXPECT_EQ(escapeLdapDnValue("a+cn=b"), "a\\+cn\\=b");
  EXPECT_EQ(escapeLdapDnValue("\"<>;\\"), "\\\"\\<\\>\\;\\\\");
  EXPECT_EQ(escapeLdapDnValue(" lead"), "\\ lead");
  EXPECT_EQ(escapeLdapDnValue("trail "), "trail\\ ");
  EXPECT_EQ(escapeLdapDnValue("in side"), "in side");
  EXPECT_EQ(escapeLdapDnValue("#x#"), "\\#x#");
  EXPECT_EQ(escapeLdapDnValue(std::string("a\0b", 3)), "a\\00b");
}

// What libldap's own DN parser reads back from an escaped value is the value itself, in a
// single RDN: no input adds components to the DN it is put in.
TEST(LdapEscapingTest, EscapedDnValuesParseBackToThemselves) {
  for (const std::string value : {"alice", "a,ou=admins", "x+uid=root", " #lead", "trail ", "\"q\"",
                                  "<a>;b", "back\\slash", "j\xc3\xb6rg", "=eq="}) {
    const std::string dn = "uid=" + escapeLdapDnValue(value) + ",ou=people,dc=example,dc=org";
    LDAPDN parsed = nullptr;
    ASSERT_EQ(ldap_str2dn(dn.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3), LDAP_SUCCESS) << dn;
    int rdns = 0;
    while (parsed[rdns] != nullptr) ++rdns;
    EXPECT_EQ(rdns, 4) << dn;
    ASSERT_NE(parsed[0][0], nullptr);
    EXPECT_EQ(parsed[0][1], nullptr) << dn << ": a multi-valued RDN";
    const berval& v = parsed[0][0]->la_value;
    EXPECT_EQ(std::string(v.bv_val, v.bv_len), value) << dn;
    ldap_dnfree(parsed);
  }
}

// ---- Configuration -------------------------------------------------------------------------

class LdapConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("skiff-ldap-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    write("service-password", "s3cret pass\n");
    write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& contents) {
    std::ofstream(dir_ / name) << contents;
  }
  Result<LdapConfig> parse(const std::string& yaml) { return parseLdapConfig(yaml, dir_.string()); }
  // The message of the error at `field`, or "" (and a test failure) when there is none.
  std::string errorAt(const std::string& yaml, const std::string& field) {
    auto config = parse(yaml);
    EXPECT_FALSE(config.ok()) << yaml;
    if (config.ok()) return "";
    EXPECT_EQ(config.status().code(), StatusCode::kInvalid);
    for (const auto& f : config.status().fields())
      if (f.path == field) return f.message;
    ADD_FAILURE() << "no error at " << field << ": " << config.status().toString();
    return "";
  }

  static constexpr const char* kMinimal =
      "url: ldap://127.0.0.1:389\nuserBase: ou=people,dc=example,dc=org\n";
  std::filesystem::path dir_;
};

TEST_F(LdapConfigTest, ReadsEveryFieldAndThePasswordFromItsFile) {
  auto config = parse(R"(
url: ldaps://ldap.example.org:636
caFile: ca.pem
bindDN: cn=skiff,ou=services,dc=example,dc=org
bindPasswordFile: service-password
userBase: ou=people,dc=example,dc=org
userFilter: (&(objectClass=person)(mail={user}))
groupBase: ou=groups,dc=example,dc=org
groupFilter: (member={dn})
groupNameAttribute: ou
groupMap: {Developers: devs, "Site Ops": ops}
userNameAttribute: uid
displayNameAttribute: displayName
emailAttribute: email
timeout: 2500ms
)");
  ASSERT_TRUE(config.ok()) << config.status().toString();
  EXPECT_EQ(config->url, "ldaps://ldap.example.org:636");
  EXPECT_FALSE(config->start_tls);
  EXPECT_EQ(config->ca_file, (dir_ / "ca.pem").string());
  EXPECT_EQ(config->bind_dn, "cn=skiff,ou=services,dc=example,dc=org");
  EXPECT_EQ(config->bind_password, "s3cret pass");
  EXPECT_EQ(config->user_filter, "(&(objectClass=person)(mail={user}))");
  EXPECT_EQ(config->group_base, "ou=groups,dc=example,dc=org");
  EXPECT_EQ(config->group_filter, "(member={dn})");
  EXPECT_EQ(config->group_name_attribute, "ou");
  ASSERT_TRUE(config->group_map.has_value());
  EXPECT_EQ(*config->group_map,
            (std::map<std::string, std::string>{{"developers", "devs"}, {"site ops", "ops"}}));
  EXPECT_EQ(config->user_name_attribute, "uid");
  EXPECT_EQ(config->display_name_attribute, "displayName");
  EXPECT_EQ(config->email_attribute, "email");
  EXPECT_EQ(config->timeout, std::chrono::milliseconds(2500));
}

TEST_F(LdapConfigTest, DefaultsForWhatIsLeftOut) {
  auto config = parse(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status().toString();
  EXPECT_EQ(config->user_filter, "(uid={user})");
  EXPECT_EQ(config->group_filter, "(|(member={dn})(uniqueMember={dn})(memberUid={user}))");
  EXPECT_EQ(config->group_name_attribute, "cn");
  EXPECT_FALSE(config->group_map.has_value());
  EXPECT_TRUE(config->bind_dn.empty());
  EXPECT_TRUE(config->user_name_attribute.empty());
  EXPECT_EQ(config->timeout, std::chrono::seconds(10));
}

TEST_F(LdapConfigTest, RequiredFieldsAreNamed) {
  auto config = parse("startTLS: false\n");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().toString().find("url: is required"), std::string::npos)
      << config.status().toString();
  EXPECT_NE(config.status().toString().find("userBase: is required"), std::string::npos)
      << config.status().toString();
  EXPECT_FALSE(parse("").ok());
  EXPECT_FALSE(parse("- url\n").ok());
  EXPECT_FALSE(parse("url: [unterminated\n").ok());
}

TEST_F(LdapConfigTest, UnknownFieldsAreNamedWithTheFieldsThatExist) {
  std::string message = errorAt(std::string(kMinimal) + "bindDn: cn=x\n", "bindDn");
  EXPECT_NE(message.find("not a field"), std::string::npos) << message;
  EXPECT_NE(message.find("bindDN"), std::string::npos) << message;
}

TEST_F(LdapConfigTest, UrlMustBeOneLdapUrl) {
  EXPECT_NE(errorAt("url: http://ldap.example.org\nuserBase: dc=x\n", "url").find("ldaps://"),
            std::string::npos);
  EXPECT_NE(errorAt("url: ldap://a ldap://b\nuserBase: dc=x\n", "url"), "");
  EXPECT_NE(errorAt("url: ldap://a/dc=x??sub?(uid=*)\nuserBase: dc=x\n", "url"), "");
  EXPECT_NE(errorAt("url: 389\nuserBase: dc=x\n", "url"), "");
  EXPECT_TRUE(parse("url: LDAP://ldap.example.org\nuserBase: dc=x\n").ok());
}

TEST_F(LdapConfigTest, TlsSettingsMustFitTheUrl) {
  EXPECT_NE(errorAt("url: ldaps://h\nstartTLS: true\nuserBase: dc=x\n", "startTLS").find("ldaps"),
            std::string::npos);
  EXPECT_NE(errorAt("url: ldap://h\nstartTLS: yes please\nuserBase: dc=x\n", "startTLS"), "");
  EXPECT_NE(errorAt("url: ldap://h\ncaFile: ca.pem\nuserBase: dc=x\n", "caFile").find("startTLS"),
            std::string::npos);
  EXPECT_NE(errorAt("url: ldaps://h\ncaFile: missing.pem\nuserBase: dc=x\n", "caFile")
                .find("missing.pem"),
            std::string::npos);
  EXPECT_TRUE(parse("url: ldap://h\nstartTLS: true\ncaFile: ca.pem\nuserBase: dc=x\n").ok());
}

TEST_F(LdapConfigTest, TheServiceAccountNeedsAPasswordFile) {
  const std::string base = std::string(kMinimal) + "bindDN: cn=skiff,dc=example,dc=org\n";
  EXPECT_NE(errorAt(base, "bindPasswordFile").find("required"), std::string::npos);
  EXPECT_NE(errorAt(base + "bindPasswordFile: nowhere\n", "bindPasswordFile").find("nowhere"),
            std::string::npos);
  write("empty", "\n");
  EXPECT_NE(errorAt(base + "bindPasswordFile: empty\n", "bindPasswordFile").find("empty"),
            std::string::npos);
  write("two-lines", "one\ntwo\n");
  EXPECT_NE(errorAt(base + "bindPasswordFile: two-lines\n", "bindPasswordFile"), "");
  EXPECT_NE(
      errorAt(std::string(kMinimal) + "bindPasswordFile: service-password\n", "bindPasswordFile")
          .find("bindDN"),
      std::string::npos);
  EXPECT_NE(errorAt("url: ldap://h\nuserBase: dc=x\nbindDN: not a dn\nbindPasswordFile: "
                    "service-password\n",
                    "bindDN"),
            "");
  // An absolute path is taken as it is.
  auto config = parse(base + "bindPasswordFile: " + (dir_ / "service-password").string() + "\n");
  ASSERT_TRUE(config.ok()) << config.status().toString();
  EXPECT_EQ(config->bind_password, "s3cret pass");
}

TEST_F(LdapConfigTest, FiltersMustBeParenthesizedAndUseTheirPlaceholders) {
  const std::string base = "url: ldap://h\nuserBase: dc=x\ngroupBase: dc=x\n";
  EXPECT_NE(errorAt(base + "userFilter: uid={user}\n", "userFilter").find("parenthesized"),
            std::string::npos);
  EXPECT_NE(errorAt(base + "userFilter: (uid=alice)\n", "userFilter").find("{user}"),
            std::string::npos);
  EXPECT_NE(errorAt(base + "userFilter: (uid={name})\n", "userFilter").find("{name}"),
            std::string::npos);
  EXPECT_NE(errorAt(base + "userFilter: (uid={dn})\n", "userFilter"), "");
  EXPECT_NE(errorAt(base + "userFilter: (uid={user}))(\n", "userFilter"), "");
  EXPECT_NE(errorAt(base + "userFilter: (uid={user})(cn=x)\n", "userFilter"), "");
  EXPECT_NE(errorAt(base + "groupFilter: (objectClass=group)\n", "groupFilter").find("{dn}"),
            std::string::npos);
  EXPECT_TRUE(parse(base + "groupFilter: (memberUid={user})\n").ok());
  EXPECT_TRUE(
      parse(base + "userFilter: (&(objectClass=person)(|(uid={user})(mail={user})))\n").ok());
}

TEST_F(LdapConfigTest, BasesMustBeDns) {
  EXPECT_NE(errorAt("url: ldap://h\nuserBase: people\n", "userBase").find("DN"), std::string::npos);
  EXPECT_NE(errorAt(std::string(kMinimal) + "groupBase: ou=groups,,\n", "groupBase"), "");
  EXPECT_NE(errorAt("url: ldap://h\nuserBase: uid={dn},dc=x\n", "userBase").find("{user}"),
            std::string::npos);
  EXPECT_TRUE(parse("url: ldap://h\nuserBase: uid={user},ou=people,dc=x\n").ok());
}

TEST_F(LdapConfigTest, GroupMapValuesMustBeSkiffGroupNames) {
  const std::string base = std::string(kMinimal) + "groupBase: ou=groups,dc=example,dc=org\n";
  std::string message = errorAt(base + "groupMap: {Developers: Dev Team}\n", "groupMap.Developers");
  EXPECT_NE(message.find("DNS label"), std::string::npos) << message;
  EXPECT_NE(errorAt(base + "groupMap: {a: [x]}\n", "groupMap.a"), "");
  auto twice = parse(base + "groupMap: {Ops: ops, OPS: ops}\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().toString().find("is mapped twice"), std::string::npos)
      << twice.status().toString();
  EXPECT_NE(errorAt(base + "groupMap: [devs]\n", "groupMap"), "");
  EXPECT_NE(errorAt(std::string(kMinimal) + "groupMap: {a: b}\n", "groupMap").find("groupBase"),
            std::string::npos);
  auto empty = parse(base + "groupMap: {}\n");
  ASSERT_TRUE(empty.ok()) << empty.status().toString();
  EXPECT_TRUE(empty->group_map.has_value());
}

TEST_F(LdapConfigTest, AttributesAndTimeoutAreChecked) {
  EXPECT_NE(errorAt(std::string(kMinimal) + "emailAttribute: \"mail)(x\"\n", "emailAttribute"), "");
  EXPECT_NE(errorAt(std::string(kMinimal) + "userNameAttribute: 42\n", "userNameAttribute")
                .find("string"),
            std::string::npos);
  EXPECT_TRUE(parse(std::string(kMinimal) + "userNameAttribute: 0.9.2342.19200300.100.1.1\n").ok());
  for (const char* bad : {"forever", "0s", "50ms", "1h", "-1s"})
    EXPECT_NE(errorAt(std::string(kMinimal) + "timeout: " + bad + "\n", "timeout").find(bad),
              std::string::npos)
        << bad;
}

TEST_F(LdapConfigTest, LoadNamesTheFile) {
  write("ldap.yaml", "url: ftp://x\nuserBase: dc=x\n");
  auto config = loadLdapConfig((dir_ / "ldap.yaml").string());
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().toString().find("ldap.yaml"), std::string::npos);
  ASSERT_EQ(config.status().fields().size(), 1u);
  EXPECT_EQ(config.status().fields()[0].path, "url");
  auto missing = loadLdapConfig((dir_ / "nope.yaml").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.yaml"), std::string::npos);
}

// ---- Group mapping -------------------------------------------------------------------------

TEST(LdapGroupsTest, WithoutAMapGroupNamesAreLowercasedAndMustBeDnsLabels) {
  LdapConfig config;
  EXPECT_EQ(mapLdapGroups(config, {"Developers", "Team Leads", "ops", "OPS", "payroll-2", "a.b"}),
            (std::vector<std::string>{"developers", "ops", "payroll-2"}));
}

TEST(LdapGroupsTest, WithAMapOnlyMappedGroupsCount) {
  LdapConfig config;
  config.group_map = std::map<std::string, std::string>{
      {"developers", "devs"}, {"site ops", "ops"}, {"admins", "ops"}};
  EXPECT_EQ(mapLdapGroups(config, {"DEVELOPERS", "Site Ops", "Admins", "payroll"}),
            (std::vector<std::string>{"devs", "ops"}));
  config.group_map->clear();
  EXPECT_TRUE(mapLdapGroups(config, {"developers"}).empty());
}

// ---- The directory, without one to reach ---------------------------------------------------

// A loopback port nothing listens on.
int closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

LdapConfig unreachable() {
  LdapConfig config;
  config.url = "ldap://127.0.0.1:" + std::to_string(closedPort());
  config.user_base = "ou=people,dc=example,dc=org";
  config.timeout = std::chrono::seconds(2);
  return config;
}

TEST(LdapDirectoryTest, AnUnreachableDirectoryIsUnavailableNotAWrongPassword) {
  LdapConfig config = unreachable();
  LdapDirectory directory(config);
  EXPECT_EQ(directory.source(), "ldap");
  auto result = directory.authenticate("alice", "Some-Password-1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find(config.url), std::string::npos)
      << result.status().message();
  EXPECT_EQ(result.status().message().find("Some-Password-1"), std::string::npos);
}

// Were the empty password sent, the unreachable directory would make this an error instead.
TEST(LdapDirectoryTest, EmptyPasswordsAndAbsurdNamesAreRefusedWithoutAsking) {
  LdapDirectory directory(unreachable());
  auto empty = directory.authenticate("alice", "");
  ASSERT_TRUE(empty.ok()) << empty.status().toString();
  EXPECT_EQ(empty->refusal, ExternalRefusal::kBadCredentials);
  auto nameless = directory.authenticate("", "Some-Password-1");
  ASSERT_TRUE(nameless.ok()) << nameless.status().toString();
  EXPECT_EQ(nameless->refusal, ExternalRefusal::kUnknownUser);
  auto long_name = directory.authenticate(std::string(300, 'a'), "Some-Password-1");
  ASSERT_TRUE(long_name.ok()) << long_name.status().toString();
  EXPECT_EQ(long_name->refusal, ExternalRefusal::kUnknownUser);
}

TEST(LdapDirectoryTest, DescribeSaysHowPasswordsTravel) {
  LdapConfig config = unreachable();
  EXPECT_NE(LdapDirectory(config).describe().find("clear text"), std::string::npos);
  config.start_tls = true;
  EXPECT_NE(LdapDirectory(config).describe().find("StartTLS"), std::string::npos);
}

}  // namespace
}  // namespace skiff
