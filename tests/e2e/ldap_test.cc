// End-to-end tests of LDAP sign-in: a real OpenLDAP slapd (Debian's /usr/sbin/slapd) with its
// own configuration and database in a temporary directory, on a free loopback port, and the
// real `skiff server --ldap-config`. LDAP users log in through the API, their directory groups
// reach RBAC, injection and local users are refused, group changes apply at the next login,
// and a directory that is down, hung or untrusted (TLS) is a 503, never a wrong password.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr const char* kSlapd = "/usr/sbin/slapd";
constexpr const char* kSlapadd = "/usr/sbin/slapadd";
constexpr const char* kLdapmodify = "/usr/bin/ldapmodify";
constexpr const char* kOpenssl = "/usr/bin/openssl";

constexpr const char* kRootDn = "cn=admin,dc=example,dc=org";
constexpr const char* kRootPassword = "root-Secret-1";
constexpr const char* kServicePassword = "service-Secret-1";
constexpr const char* kAlicePassword = "alice-Secret-1";
constexpr const char* kBobPassword = "bob-Secret-1";
constexpr const char* kCarolLdapPassword = "carol-Ldap-Secret-1";
constexpr const char* kCarolLocalPassword = "Carol-Local-Secret-1";
constexpr const char* kBadCredentials = "the user name or password is wrong";

// Alice is in Developers (groupOfNames), payroll (posixGroup) and "Team Leads" (not a DNS
// label); bob in Developers and Operators (groupOfUniqueNames); carol in Operators.
const char* const kDirectory = R"(dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: ou=services,dc=example,dc=org
objectClass: organizationalUnit
ou: services

dn: cn=skiff,ou=services,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: skiff
userPassword: service-Secret-1

dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.org
userPassword: alice-Secret-1

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
userPassword: bob-Secret-1

dn: uid=carol,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol
cn: Carol Local
sn: Local
userPassword: carol-Ldap-Secret-1

dn: cn=Developers,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: Developers
member: uid=alice,ou=people,dc=example,dc=org
member: uid=bob,ou=people,dc=example,dc=org

dn: cn=Operators,ou=groups,dc=example,dc=org
objectClass: groupOfUniqueNames
cn: Operators
uniqueMember: uid=bob,ou=people,dc=example,dc=org
uniqueMember: uid=carol,ou=people,dc=example,dc=org

dn: cn=payroll,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: payroll
gidNumber: 5000
memberUid: alice

dn: cn=Team Leads,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: Team Leads
member: uid=alice,ou=people,dc=example,dc=org
)";

void writeFile(const std::string& path, const std::string& contents) {
  std::ofstream(path) << contents;
}

bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Starts `args` with stdout and stderr appended to `log`.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits up to `timeout` for `pid` to exit; true (and its status) if it did.
bool waitExit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  const auto deadline = steady_clock::now() + timeout;
  while (true) {
    if (::waitpid(pid, status, WNOHANG) == pid) return true;
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Runs `args` to completion (killed after 60 s); its exit code, or -1, with output in `log`.
int run(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = spawn(args, log);
  int status = 0;
  if (!waitExit(pid, seconds(60), &status)) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A CA and a server certificate for 127.0.0.1 signed by it, plus a second, unrelated CA.
struct Certificates {
  std::string ca, other_ca, cert, key;
};

void makeCertificates(const std::string& dir, Certificates* out) {
  const std::string log = dir + "/openssl.log";
  auto ok = [&](std::vector<std::string> args) {
    args.insert(args.begin(), kOpenssl);
    return run(args, log) == 0;
  };
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                       "-nodes"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  writeFile(dir + "/san.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  ASSERT_TRUE(ok(with({"req", "-x509", "-days", "2", "-subj", "/CN=Skiff Test CA", "-keyout",
                       dir + "/ca.key", "-out", dir + "/ca.pem"},
                      ec)))
      << readFile(log);
  ASSERT_TRUE(ok(with({"req", "-x509", "-days", "2", "-subj", "/CN=Another CA", "-keyout",
                       dir + "/other-ca.key", "-out", dir + "/other-ca.pem"},
                      ec)))
      << readFile(log);
  ASSERT_TRUE(ok(with({"req", "-subj", "/CN=127.0.0.1", "-keyout", dir + "/server.key", "-out",
                       dir + "/server.csr"},
                      ec)))
      << readFile(log);
  ASSERT_TRUE(ok({"x509", "-req", "-days", "2", "-in", dir + "/server.csr", "-CA", dir + "/ca.pem",
                  "-CAkey", dir + "/ca.key", "-CAcreateserial", "-extfile", dir + "/san.cnf",
                  "-out", dir + "/server.pem"}))
      << readFile(log);
  *out = {dir + "/ca.pem", dir + "/other-ca.pem", dir + "/server.pem", dir + "/server.key"};
}

// A slapd of our own: slapd.conf, an mdb database loaded with slapadd, listening on loopback
// ports (plain LDAP with StartTLS, and LDAPS when given certificates). Stopped by pid on
// destruction; the caller owns the directory.
class Slapd {
 public:
  explicit Slapd(std::string dir) : dir_(std::move(dir)) {}
  ~Slapd() { stop(); }

  // Before start(): serve StartTLS and LDAPS with these.
  void useTls(const Certificates& certificates) { tls_ = certificates; }

  void start() {
    for (const char* program : {kSlapd, kSlapadd, kLdapmodify})
      ASSERT_TRUE(std::filesystem::exists(program))
          << program << " is missing: install slapd and ldap-utils (scripts/setup)";
    std::filesystem::create_directories(dir_ + "/db");
    writeFile(dir_ + "/slapd.conf", config());
    if (!std::filesystem::exists(dir_ + "/db/data.mdb")) {
      writeFile(dir_ + "/data.ldif", kDirectory);
      ASSERT_EQ(run({kSlapadd, "-f", dir_ + "/slapd.conf", "-l", dir_ + "/data.ldif"},
                    dir_ + "/slapadd.log"),
                0)
          << readFile(dir_ + "/slapadd.log");
    }
    // A port taken between freePort() and slapd's bind makes slapd exit: try again.
    for (int attempt = 0; attempt < 3 && pid_ < 0; ++attempt) {
      port_ = freePort();
      do tls_port_ = tls_ ? freePort() : 0;
      while (tls_port_ == port_);
      std::string urls = url();
      if (tls_) urls += " " + ldapsUrl();
      // -d 0: stay in the foreground, so that the pid is slapd's own.
      pid_t pid =
          spawn({kSlapd, "-f", dir_ + "/slapd.conf", "-h", urls, "-d", "0"}, dir_ + "/slapd.log");
      bool exited = false;
      const bool up = eventually([&] {
        exited = ::waitpid(pid, nullptr, WNOHANG) == pid;
        return exited || (accepts(port_) && (!tls_ || accepts(tls_port_)));
      });
      if (up && !exited) {
        pid_ = pid;
      } else if (!exited) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
    ASSERT_GT(pid_, 0) << "slapd did not start; log:\n" << readFile(dir_ + "/slapd.log");
  }

  // SIGTERM (SIGKILL after 10 s); idempotent.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    int status;
    if (!waitExit(pid_, seconds(10), &status)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

  std::string url() const { return "ldap://127.0.0.1:" + std::to_string(port_); }
  std::string ldapsUrl() const { return "ldaps://127.0.0.1:" + std::to_string(tls_port_); }

  // Applies an LDIF of changes as the directory's root.
  void modify(const std::string& ldif) {
    const std::string file = dir_ + "/change.ldif", log = dir_ + "/ldapmodify.log";
    writeFile(file, ldif);
    ASSERT_EQ(
        run({kLdapmodify, "-x", "-H", url(), "-D", kRootDn, "-w", kRootPassword, "-f", file}, log),
        0)
        << readFile(log);
  }

 private:
  std::string config() const {
    std::string c;
    for (const char* schema : {"core", "cosine", "inetorgperson", "nis"})
      c += std::string("include /etc/ldap/schema/") + schema + ".schema\n";
    c += "modulepath /usr/lib/ldap\nmoduleload back_mdb\n";
    c += "pidfile " + dir_ + "/slapd.pid\nargsfile " + dir_ + "/slapd.args\n";
    if (tls_)
      c += "TLSCACertificateFile " + tls_->ca + "\nTLSCertificateFile " + tls_->cert +
           "\nTLSCertificateKeyFile " + tls_->key + "\n";
    c += "database mdb\nmaxsize 16777216\nsuffix \"dc=example,dc=org\"\n";
    c += std::string("rootdn \"") + kRootDn + "\"\nrootpw " + kRootPassword + "\n";
    c += "directory " + dir_ + "/db\n";
    // Passwords can only be used to bind; entries are readable once bound, not anonymously.
    c += "access to attrs=userPassword by anonymous auth by * none\n";
    c += "access to * by users read by * none\n";
    return c;
  }

  std::string dir_;
  std::optional<Certificates> tls_;
  int port_ = 0, tls_port_ = 0;
  pid_t pid_ = -1;
};

class LdapTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(slapd_.start()); }

  // Writes a configuration for `url` with the service account, searching people and groups,
  // plus `extra` (YAML lines); returns its path.
  std::string writeConfig(const std::string& name, const std::string& url,
                          const std::string& extra) {
    writeFile(ldap_dir_.path() + "/service-password", std::string(kServicePassword) + "\n");
    const std::string path = ldap_dir_.path() + "/" + name;
    writeFile(path, "url: " + url +
                        "\n"
                        "bindDN: cn=skiff,ou=services,dc=example,dc=org\n"
                        "bindPasswordFile: service-password\n"
                        "userBase: ou=people,dc=example,dc=org\n"
                        "groupBase: ou=groups,dc=example,dc=org\n"
                        "userNameAttribute: uid\n"
                        "timeout: 2s\n" +
                        extra);
    return path;
  }
  static constexpr const char* kGroupMap = "groupMap: {Developers: devs, Operators: ops}\n";

  // Starts a skiff server with `config` on a data directory of its own; server() is it.
  void startServer(const std::string& config) {
    data_dirs_.push_back(std::make_unique<TempDir>());
    servers_.push_back(std::make_unique<ServerProcess>(
        data_dirs_.back()->path(), std::vector<std::string>{"--ldap-config", config}));
    servers_.back()->start();
  }
  ServerProcess& server() { return *servers_.back(); }

  HttpResult login(const std::string& user, const std::string& password) {
    return httpRequest(server().url(), "POST", "/api/v1/login",
                       json{{"user", user}, {"password", password}}.dump(), "application/json",
                       {{"Authorization", ""}});
  }
  // Logs in and returns the session token; fails the test unless the login succeeds.
  std::string session(const std::string& user, const std::string& password) {
    HttpResult r = login(user, password);
    EXPECT_EQ(r.status, 200) << user << ": " << r.body;
    return r.status == 200 ? json::parse(r.body).value("token", "") : "";
  }
  HttpResult as(const std::string& token, const std::string& method, const std::string& path) {
    return httpRequest(server().url(), method, path, "", "application/json",
                       {{"Authorization", "Bearer " + token}});
  }
  json whoami(const std::string& token) {
    HttpResult r = as(token, "GET", "/api/v1/whoami");
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // As the platform admin.
  HttpResult post(const std::string& path, const json& body) {
    return httpRequest(server().url(), "POST", path, body.dump());
  }
  json user(const std::string& name) {
    HttpResult r = httpRequest(server().url(), "GET", "/api/v1/users/" + name);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  static std::string messageOf(const HttpResult& r) {
    json body = json::parse(r.body, nullptr, false);
    return body.is_object() ? body.value("message", "") : "";
  }
  static std::vector<std::string> groupsOf(const json& j) {
    return j.value("groups", std::vector<std::string>{});
  }

  TempDir ldap_dir_;
  Slapd slapd_{ldap_dir_.path()};
  std::vector<std::unique_ptr<TempDir>> data_dirs_;  // outlive the servers using them
  std::vector<std::unique_ptr<ServerProcess>> servers_;
};

TEST_F(LdapTest, UsersSignInWithTheirMappedGroupsAndBindingsToThoseGroupsApply) {
  ASSERT_NO_FATAL_FAILURE(startServer(writeConfig("ldap.yaml", slapd_.url(), kGroupMap)));
  const std::string alice = session("alice", kAlicePassword);
  ASSERT_FALSE(alice.empty());
  json who = whoami(alice);
  EXPECT_EQ(who.value("user", ""), "alice");
  // Payroll and "Team Leads" are not in the map.
  EXPECT_EQ(groupsOf(who), std::vector<std::string>{"devs"});
  json u = user("alice");
  EXPECT_EQ(u["spec"].value("source", ""), "ldap");
  EXPECT_EQ(u["spec"].value("displayName", ""), "Alice Liddell");
  EXPECT_EQ(u["spec"].value("email", ""), "alice@example.org");
  EXPECT_EQ(groupsOf(u["spec"]), std::vector<std::string>{"devs"});

  // member, uniqueMember: both kinds of group count.
  const std::string bob = session("bob", kBobPassword);
  EXPECT_EQ(groupsOf(whoami(bob)), (std::vector<std::string>{"devs", "ops"}));
  const std::string carol = session("carol", kCarolLdapPassword);
  EXPECT_EQ(groupsOf(whoami(carol)), std::vector<std::string>{"ops"});

  for (const char* tenant : {"acme", "beta"})
    ASSERT_EQ(post("/api/v1/tenants", {{"metadata", {{"name", tenant}}}}).status, 201);
  EXPECT_EQ(as(alice, "GET", "/api/v1/tenants/acme/applications").status, 403);
  ASSERT_EQ(post("/api/v1/tenants/acme/rolebindings",
                 {{"metadata", {{"name", "developers"}}},
                  {"spec",
                   {{"role", "developer"}, {"subjects", {{{"kind", "Group"}, {"name", "devs"}}}}}}})
                .status,
            201);
  EXPECT_EQ(as(alice, "GET", "/api/v1/tenants/acme/applications").status, 200);
  EXPECT_EQ(as(bob, "GET", "/api/v1/tenants/acme/applications").status, 200);
  EXPECT_EQ(as(alice, "GET", "/api/v1/tenants/beta/applications").status, 403);
  EXPECT_EQ(as(carol, "GET", "/api/v1/tenants/acme/applications").status, 403);

  // The directory matches names ignoring case; the session is the directory's user.
  const std::string shouted = session("ALICE", kAlicePassword);
  ASSERT_FALSE(shouted.empty());
  EXPECT_EQ(whoami(shouted).value("user", ""), "alice");
  EXPECT_EQ(as(shouted, "GET", "/api/v1/tenants/acme/applications").status, 200);

  const std::string log = readFile(server().logPath());
  for (const char* secret : {kAlicePassword, kBobPassword, kServicePassword})
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " is in the server's log";
}

TEST_F(LdapTest, WrongPasswordsUnknownUsersAndFilterInjectionGetTheSameRefusal) {
  ASSERT_NO_FATAL_FAILURE(startServer(writeConfig("ldap.yaml", slapd_.url(), kGroupMap)));
  HttpResult wrong = login("alice", "Wrong-Password-1");
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_EQ(messageOf(wrong), kBadCredentials);
  HttpResult unknown = login("mallory", kAlicePassword);
  EXPECT_EQ(unknown.status, 401) << unknown.body;
  EXPECT_EQ(messageOf(unknown), kBadCredentials);
  // Unescaped, "ali*" and "a*e" would find alice alone and sign her in with her password.
  for (const std::string attack : {"*", "ali*", "a*e", ")(uid=*", "alice)(uid=*", "*)(|(uid=*",
                                   "alice)(|(objectClass=*", "alice\\29", "uid=alice"}) {
    HttpResult r = login(attack, kAlicePassword);
    EXPECT_EQ(r.status, 401) << attack << ": " << r.body;
    EXPECT_EQ(messageOf(r), kBadCredentials) << attack;
  }
  // Nobody was created by any of it, and alice can still sign in.
  HttpResult users = httpRequest(server().url(), "GET", "/api/v1/users");
  ASSERT_EQ(users.status, 200) << users.body;
  const json list = json::parse(users.body);
  std::vector<std::string> names;
  for (const auto& item : list["items"]) names.push_back(item["metadata"]["name"]);
  EXPECT_EQ(names, std::vector<std::string>{"admin"}) << users.body;
  EXPECT_FALSE(session("alice", kAlicePassword).empty());
}

TEST_F(LdapTest, LocalUsersAreNotSignedInThroughTheDirectory) {
  ASSERT_NO_FATAL_FAILURE(startServer(writeConfig("ldap.yaml", slapd_.url(), kGroupMap)));
  // carol exists in both places; the local credential decides.
  ASSERT_EQ(post("/api/v1/users", {{"metadata", {{"name", "carol"}}}}).status, 201);
  HttpResult set = httpRequest(server().url(), "PUT", "/api/v1/users/carol/password",
                               json{{"password", kCarolLocalPassword}}.dump());
  ASSERT_EQ(set.status, 200) << set.body;
  HttpResult through_ldap = login("carol", kCarolLdapPassword);
  EXPECT_EQ(through_ldap.status, 401) << through_ldap.body;
  EXPECT_EQ(messageOf(through_ldap), kBadCredentials);
  const std::string carol = session("carol", kCarolLocalPassword);
  EXPECT_TRUE(groupsOf(whoami(carol)).empty());
  EXPECT_EQ(user("carol")["spec"].value("source", "local"), "local");
  // Nor is a local user who has no password yet, nor that user under another spelling.
  ASSERT_EQ(post("/api/v1/users", {{"metadata", {{"name", "bob"}}}}).status, 201);
  for (const char* name : {"bob", "BOB"}) {
    HttpResult r = login(name, kBobPassword);
    EXPECT_EQ(r.status, 401) << name << ": " << r.body;
  }
  EXPECT_EQ(user("bob")["spec"].value("source", "local"), "local");
}

TEST_F(LdapTest, GroupChangesInTheDirectoryApplyAtTheNextLogin) {
  ASSERT_NO_FATAL_FAILURE(startServer(writeConfig("ldap.yaml", slapd_.url(), kGroupMap)));
  EXPECT_EQ(groupsOf(whoami(session("alice", kAlicePassword))), std::vector<std::string>{"devs"});
  ASSERT_NO_FATAL_FAILURE(slapd_.modify(R"(dn: cn=Developers,ou=groups,dc=example,dc=org
changetype: modify
delete: member
member: uid=alice,ou=people,dc=example,dc=org

dn: cn=Operators,ou=groups,dc=example,dc=org
changetype: modify
add: uniqueMember
uniqueMember: uid=alice,ou=people,dc=example,dc=org
)"));
  EXPECT_EQ(groupsOf(whoami(session("alice", kAlicePassword))), std::vector<std::string>{"ops"});
  EXPECT_EQ(groupsOf(user("alice")["spec"]), std::vector<std::string>{"ops"});
}

TEST_F(LdapTest, WithoutAGroupMapEveryGroupNamedLikeASkiffGroupCounts) {
  ASSERT_NO_FATAL_FAILURE(startServer(writeConfig("ldap.yaml", slapd_.url(), "")));
  // member and memberUid (the default filter); "Team Leads" is not a DNS label.
  EXPECT_EQ(groupsOf(whoami(session("alice", kAlicePassword))),
            (std::vector<std::string>{"developers", "payroll"}));
}

TEST_F(LdapTest, AHungOrStoppedDirectoryIsUnavailableNamingIt) {
  ASSERT_NO_FATAL_FAILURE(startServer(writeConfig("ldap.yaml", slapd_.url(), kGroupMap)));
  ASSERT_FALSE(session("alice", kAlicePassword).empty());

  // Connections are accepted by the kernel but never answered: the timeout (2s) ends it.
  slapd_.pause();
  const auto begin = steady_clock::now();
  HttpResult hung = login("alice", kAlicePassword);
  const auto took = steady_clock::now() - begin;
  slapd_.resume();
  EXPECT_EQ(hung.status, 503) << hung.body;
  EXPECT_NE(
      messageOf(hung).find("the LDAP directory " + slapd_.url() + " did not answer within 2s"),
      std::string::npos)
      << hung.body;
  EXPECT_LT(took, seconds(10));

  slapd_.stop();
  HttpResult down = login("alice", kAlicePassword);
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_NE(messageOf(down).find("cannot reach the LDAP directory " + slapd_.url()),
            std::string::npos)
      << down.body;
  // Local users do not depend on the directory.
  const std::string admin_password = readFile(server().dataDir() + "/admin-password");
  EXPECT_FALSE(session("admin", admin_password.substr(0, admin_password.find('\n'))).empty());
}

TEST_F(LdapTest, ABadConfigurationStopsTheServerNamingTheField) {
  TempDir data;
  ServerProcess cleanup(data.path());  // ends whatever a server that did start left running
  const std::vector<std::string> server = {
      "server",      "--data-dir",       data.path(),   "--listen",
      "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--gateway-admin-listen",
      "127.0.0.1:0", "--ldap-config"};
  auto start = [&](const std::string& config) {
    std::vector<std::string> args = server;
    args.push_back(config);
    return runSkiff(args, "");
  };
  CommandResult bad = start(writeConfig("bad.yaml", "http://127.0.0.1:1", "groupMap: {x: X}\n"));
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  const std::string output = bad.out + bad.err;
  EXPECT_NE(output.find("url: must start with ldap:// or ldaps://"), std::string::npos) << output;
  EXPECT_NE(output.find("groupMap.x: must be a Skiff group name"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(data.path() + "/api.addr"));

  CommandResult missing = start(ldap_dir_.path() + "/missing.yaml");
  EXPECT_EQ(missing.exit_code, 2) << missing.out << missing.err;
  EXPECT_NE((missing.out + missing.err).find("missing.yaml"), std::string::npos);
}

// StartTLS and LDAPS, verified against the configured CA.
class LdapTlsTest : public LdapTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(makeCertificates(ldap_dir_.path(), &certificates_));
    slapd_.useTls(certificates_);
    LdapTest::SetUp();
  }
  Certificates certificates_;
};

TEST_F(LdapTlsTest, StartTlsAndLdapsSignInWhenTheServerIsTrustedOnly) {
  ASSERT_NO_FATAL_FAILURE(startServer(writeConfig(
      "starttls.yaml", slapd_.url(), "startTLS: true\ncaFile: " + certificates_.ca + "\n")));
  EXPECT_EQ(groupsOf(whoami(session("alice", kAlicePassword))),
            (std::vector<std::string>{"developers", "payroll"}));

  ASSERT_NO_FATAL_FAILURE(startServer(
      writeConfig("ldaps.yaml", slapd_.ldapsUrl(), "caFile: " + certificates_.ca + "\n")));
  EXPECT_FALSE(session("alice", kAlicePassword).empty());

  for (const auto& [name, url, extra] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"untrusted-starttls.yaml", slapd_.url(), "startTLS: true\n"},
           {"untrusted-ldaps.yaml", slapd_.ldapsUrl(), ""}}) {
    ASSERT_NO_FATAL_FAILURE(
        startServer(writeConfig(name, url, extra + "caFile: " + certificates_.other_ca + "\n")));
    HttpResult r = login("alice", kAlicePassword);
    EXPECT_EQ(r.status, 503) << name << ": " << r.body;
    EXPECT_NE(messageOf(r).find(url), std::string::npos) << r.body;
    EXPECT_NE(messageOf(r).find("certificate is not trusted"), std::string::npos) << r.body;
  }
}

}  // namespace
}  // namespace skiff::test
