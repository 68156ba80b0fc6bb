// End-to-end tests of instance logs: the real server runs the example service (printing one
// line per request) and `skiff logs` reads them back: --tail, --since, --instance, prefixes
// for several instances, -f seeing a new line, --previous after a kill -9, and the logs of a
// deleted application; the API's errors for bad parameters and unknown names. Searching:
// --grep (-i, -E) across two instances and after one was removed, --until, --limit, -f with
// --grep, --export as JSON lines and text; the platform's own logs for a platform admin, and a
// tenant's developer refused them.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kInstances = "/api/v1/tenants/default/instances";

json app(int replicas) {
  return {{"apiVersion", "skiff.dev/v1"},
          {"kind", "Application"},
          {"metadata", {{"name", "chatty"}}},
          {"spec",
           {{"components",
             {{{"name", "web"},
               {"run", {{"command", "skiff-example"}, {"args", {"--name", "web", "--access-log"}}}},
               {"replicas", replicas},
               {"ports", {{{"name", "http"}, {"port", 8080}}}},
               {"terminationGracePeriodSeconds", 1}}}}}}};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

// `skiff ARGS...` left running, its stdout read as it comes (for -f).
class RunningCommand {
 public:
  RunningCommand(const std::vector<std::string>& args, const std::string& server_url) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      setenv("SKIFF_SERVER", server_url.c_str(), 1);
      if (const std::string token = tokenFor(server_url); !token.empty())
        setenv("SKIFF_TOKEN", token.c_str(), 1);
      if (const std::string ca = caFor(server_url); !ca.empty()) setenv("SKIFF_CA", ca.c_str(), 1);
      std::string bin = skiffBinary();
      std::vector<std::string> copy = args;
      std::vector<char*> argv = {bin.data()};
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    fd_ = out[0];
  }
  ~RunningCommand() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  // Reads until `needle` has been printed or `timeout` passes.
  bool waitFor(const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!contains(output_, needle)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return contains(output_, needle);
      output_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string output_;
};

class LogsTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }
  CommandResult skiff(const std::vector<std::string>& args) {
    return runSkiff(args, server_.url());
  }
  json get(const std::string& path) {
    return json::parse(httpRequest(server_.url(), "GET", path).body, nullptr, false);
  }
  void apply(const json& doc) {
    const std::string path = files_.path() + "/chatty.json";
    std::ofstream(path) << doc.dump();
    auto r = skiff({"apply", "-f", path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Running instances with a port, by name.
  std::map<std::string, json> running() {
    std::map<std::string, json> out;
    for (const auto& i : get(kInstances).value("items", json::array())) {
      const json& s = i["status"];
      if (s.value("phase", "") == "Running" && s.contains("ports") && s.value("pid", 0) > 0)
        out[i["metadata"]["name"]] = i;
    }
    return out;
  }
  // A request straight to an instance, which logs "GET /echo?m=MARKER 200".
  void request(const json& instance, const std::string& marker) {
    const std::string url =
        "http://127.0.0.1:" + std::to_string(instance["status"]["ports"]["http"].get<int>());
    ASSERT_EQ(httpRequest(url, "GET", "/echo?m=" + marker).status, 200);
  }
  std::string logs(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"logs", "chatty"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = skiff(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  // Lines of `text`.
  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  TempDir dir_;
  TempDir files_;
  ServerProcess server_{dir_.path(), {"--log-retention", "1h"}};
};

TEST_F(LogsTest, SearchesEveryInstanceKeptAndExportsWhatItFinds) {
  apply(app(2));
  std::map<std::string, json> instances;
  ASSERT_TRUE(eventually([&] { return (instances = running()).size() == 2; }));
  const std::string a = instances.begin()->first;
  const std::string b = std::next(instances.begin())->first;
  request(instances[a], "upstream-timeout-a");
  request(instances[a], "fine");
  // b's lines are written once a's are stamped, so the merge by time puts a's first.
  ASSERT_TRUE(eventually([&] { return contains(logs({"--instance", a}), "m=fine"); }));
  request(instances[b], "Upstream-Timeout-b");
  request(instances[b], "status-503");
  ASSERT_TRUE(eventually([&] {
    return contains(logs({"--grep", "Timeout", "--since", "1h"}), "Timeout-b");
  }));

  // Plain text, across both instances, each line saying whose it is.
  EXPECT_EQ(logs({"--grep", "timeout", "--since", "2h"}),
            "[" + a + "] GET /echo?m=upstream-timeout-a 200\n");
  const std::string either = logs({"--grep", "timeout", "-i", "--since", "2h"});
  EXPECT_EQ(lines(either),
            (std::vector<std::string>{"[" + a + "] GET /echo?m=upstream-timeout-a 200",
                                      "[" + b + "] GET /echo?m=Upstream-Timeout-b 200"}))
      << either;
  EXPECT_EQ(lines(logs({"--grep", "m=(status-\\d+|fine) ", "-E"})),
            (std::vector<std::string>{"[" + a + "] GET /echo?m=fine 200",
                                      "[" + b + "] GET /echo?m=status-503 200"}));
  EXPECT_EQ(logs({"--grep", "timeout", "-i", "--instance", b}),
            "GET /echo?m=Upstream-Timeout-b 200\n");
  EXPECT_EQ(logs({"-c", "web", "--grep", "timeout", "--until", "2020-01-01T00:00:00Z"}), "")
      << "nothing was written before --until";
  EXPECT_EQ(logs({"--grep", "nowhere-to-be-found"}), "");

  // --limit keeps the newest lines and says that more matched.
  auto limited = skiff({"logs", "chatty", "--grep", "GET /echo", "--limit", "1"});
  ASSERT_EQ(limited.exit_code, 0) << limited.err;
  EXPECT_EQ(limited.out, "[" + b + "] GET /echo?m=status-503 200\n");
  EXPECT_TRUE(contains(limited.err, "more lines matched")) << limited.err;

  // -f with --grep follows only the lines that match.
  {
    RunningCommand follow({"logs", "chatty", "-f", "--grep", "needle", "--since", "1h"},
                          server_.url());
    request(instances[a], "hay");
    request(instances[a], "needle-1");
    ASSERT_TRUE(follow.waitFor("m=needle-1", std::chrono::seconds(5))) << follow.output();
    EXPECT_FALSE(contains(follow.output(), "m=hay")) << follow.output();
  }

  // One instance goes (a scale-down): its lines are still found.
  apply(app(1));
  ASSERT_TRUE(
      eventually([&] { return get(kInstances)["items"].size() == 1; }, std::chrono::seconds(15)));
  const std::string gone = running().count(a) ? b : a;
  const std::string after = logs({"--grep", "timeout", "-i", "--since", "1h"});
  EXPECT_TRUE(contains(after, "[" + a + "] GET /echo?m=upstream-timeout-a 200\n")) << after;
  EXPECT_TRUE(contains(after, "[" + b + "] GET /echo?m=Upstream-Timeout-b 200\n")) << after;
  EXPECT_TRUE(contains(logs({"--grep", "timeout", "-i", "--instance", gone}), "imeout-")) << gone;

  // Export: JSON lines with each line's time, instance, component and stream.
  const std::string jsonl = files_.path() + "/found.jsonl";
  auto exported =
      skiff({"logs", "chatty", "--grep", "timeout", "-i", "--since", "24h", "--export", jsonl});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(contains(exported.out, "exported 2 lines to " + jsonl)) << exported.out;
  const std::vector<std::string> rows = lines(readFile(jsonl));
  ASSERT_EQ(rows.size(), 2u) << readFile(jsonl);
  const json first = json::parse(rows[0], nullptr, false);
  ASSERT_TRUE(first.is_object()) << rows[0];
  EXPECT_EQ(first.value("instance", ""), a);
  EXPECT_EQ(first.value("component", ""), "web");
  EXPECT_EQ(first.value("stream", ""), "stdout");
  EXPECT_EQ(first.value("line", ""), "GET /echo?m=upstream-timeout-a 200");
  const std::string time = first.value("time", "");
  EXPECT_TRUE(time.size() == 24 && time[10] == 'T' && time[23] == 'Z') << time;
  EXPECT_EQ(json::parse(rows[1], nullptr, false).value("instance", ""), b);
  // And as text: time, instance and line.
  const std::string text = files_.path() + "/found.txt";
  ASSERT_EQ(skiff({"logs", "chatty", "--grep", "timeout", "--export", text}).exit_code, 0);
  EXPECT_EQ(readFile(text), time + " [" + a + "] GET /echo?m=upstream-timeout-a 200\n");

  // Bad patterns and parameters are refused, naming them.
  auto bad = skiff({"logs", "chatty", "--grep", "time(out", "-E"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.err, "grep") && contains(bad.err, "regular expression")) << bad.err;
  const std::string path = "/api/v1/tenants/default/applications/chatty/logs";
  for (const auto& [query, named] : std::vector<std::pair<std::string, std::string>>{
           {"?grep=a&limit=0", "limit"},
           {"?grep=a&limit=100001", "limit"},
           {"?grep=a&until=yesterday", "until"},
           {"?grep=a&format=xml", "format"},
           {"?regex=true", "grep"},
           {"?grep=a&tailLines=3", "tailLines"},
           {"?grep=a&follow=true&limit=5", "limit"},
           {"?grep=%5B&regex=true", "grep"},
           {"?sinceSeconds=60&until=2000-01-01T00:00:00Z", "since"}}) {
    auto r = httpRequest(server_.url(), "GET", path + query);
    EXPECT_EQ(r.status, 400) << query << " " << r.body;
    EXPECT_TRUE(contains(r.body, named)) << query << " " << r.body;
  }
  auto api = httpRequest(server_.url(), "GET", path + "?grep=timeout&ignoreCase=true&format=json");
  ASSERT_EQ(api.status, 200) << api.body;
  const json found = json::parse(api.body, nullptr, false);
  EXPECT_EQ(found["lines"].size(), 2u) << api.body;
  EXPECT_EQ(found.value("truncated", true), false);
  EXPECT_EQ(found["instances"].size(), 2u) << api.body;
}

TEST_F(LogsTest, PlatformLogsAreSearchedByPlatformAdminsOnly) {
  auto platform = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"logs", "--platform"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = skiff(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  // The server's own log, searched like an instance's.
  std::string found;
  ASSERT_TRUE(eventually([&] {
    found = platform({"--grep", "listening on"});
    return contains(found, "[server] info skiff server");
  })) << found;
  EXPECT_TRUE(contains(readFile(server_.dataDir() + "/logs/server/current.log"), "listening on"));
  // Its gateway's, alone with -c.
  ASSERT_TRUE(eventually([&] {
    found = platform({"-c", "gateway", "--grep", "gateway: serving on"});
    return contains(found, "info gateway: serving on");
  })) << found;
  EXPECT_FALSE(contains(found, "[gateway]")) << "one component: no prefix";
  auto api = httpRequest(server_.url(), "GET",
                         "/api/v1/platform/logs?grep=LISTENING%20ON&ignoreCase=true&sinceSeconds="
                         "3600&format=json");
  ASSERT_EQ(api.status, 200) << api.body;
  const json doc = json::parse(api.body, nullptr, false);
  ASSERT_FALSE(doc["lines"].empty()) << api.body;
  EXPECT_EQ(doc["lines"][0].value("component", ""), "server");
  auto unknown = httpRequest(server_.url(), "GET", "/api/v1/platform/logs?component=db");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_TRUE(contains(unknown.body, "server, gateway")) << unknown.body;
  EXPECT_EQ(httpRequest(server_.url(), "GET", "/api/v1/platform/logs?follow=true").status, 400);

  // A developer of a tenant may search its applications' logs, not the platform's.
  auto post = [&](const std::string& path, const json& body) {
    return httpRequest(server_.url(), "POST", path, body.dump());
  };
  ASSERT_EQ(post("/api/v1/users", {{"metadata", {{"name", "dev"}}}}).status, 201);
  ASSERT_EQ(
      post("/api/v1/tenants/default/rolebindings",
           {{"metadata", {{"name", "dev"}}},
            {"spec", {{"role", "developer"}, {"subjects", {{{"kind", "User"}, {"name", "dev"}}}}}}})
          .status,
      201);
  auto token = post("/api/v1/tokens", {{"user", "dev"}, {"description", "logs"}});
  ASSERT_EQ(token.status, 201) << token.body;
  const std::map<std::string, std::string> as_dev = {
      {"Authorization", "Bearer " + json::parse(token.body)["token"].get<std::string>()}};
  apply(app(1));
  auto own =
      httpRequest(server_.url(), "GET", "/api/v1/tenants/default/applications/chatty/logs?grep=x",
                  "", "application/json", as_dev);
  EXPECT_EQ(own.status, 200) << own.body;
  auto refused = httpRequest(server_.url(), "GET", "/api/v1/platform/logs?grep=listening", "",
                             "application/json", as_dev);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_TRUE(contains(refused.body, "platformlogs")) << refused.body;
}

TEST_F(LogsTest, LogsOfAnApplicationThroughItsLifetime) {
  apply(app(2));
  std::map<std::string, json> instances;
  ASSERT_TRUE(eventually([&] { return (instances = running()).size() == 2; }));
  const std::string a = instances.begin()->first;
  const std::string b = std::next(instances.begin())->first;
  request(instances[a], "a1");
  request(instances[a], "a2");
  const std::string a2 = "GET /echo?m=a2 200";
  // Each shim stamps a line when it reads it: b1 is sent once a's lines are stamped, so the
  // merge by time must put them first.
  ASSERT_TRUE(eventually([&] { return contains(logs({}), a2); }));
  request(instances[b], "b1");
  ASSERT_TRUE(eventually([&] { return contains(logs({}), "m=b1"); }));

  // Several instances: every line says whose it is, merged by time.
  const std::string all = logs({});
  EXPECT_TRUE(contains(all, "[" + a + "] GET /echo?m=a1 200\n")) << all;
  EXPECT_TRUE(contains(all, "[" + b + "] GET /echo?m=b1 200\n")) << all;
  EXPECT_TRUE(contains(all, "[" + a + "] skiff-example web")) << "the start line: " << all;
  EXPECT_LT(all.find("m=a1"), all.find("m=b1")) << all;
  // One instance: no prefix; --tail counts its last lines.
  EXPECT_EQ(logs({"--instance", a, "--tail", "1"}), a2 + "\n");
  EXPECT_EQ(logs({"--instance", a, "--tail", "2"}), "GET /echo?m=a1 200\n" + a2 + "\n");
  EXPECT_EQ(count(logs({"--tail", "1"}), "\n"), 2u) << "the last line of each instance";
  EXPECT_EQ(logs({"--instance", b, "--since", "1h"}).find("m=a"), std::string::npos);
  EXPECT_TRUE(contains(logs({"--instance", b, "--since", "1h"}), "m=b1"));
  EXPECT_EQ(logs({"--since", "2099-01-01T00:00:00Z"}), "");
  const std::string stamped =
      skiff({"logs", "chatty/web", "--instance", a, "--tail", "1", "--timestamps"}).out;
  EXPECT_TRUE(stamped.size() > 25 && stamped[4] == '-' && stamped[23] == 'Z') << stamped;
  EXPECT_EQ(logs({"--instance", a, "--tail", "1"}), logs({"--instance", a, "--tail", "1"}));

  // -f prints what exists, then new lines as they are written.
  {
    RunningCommand follow({"logs", "chatty", "--instance", a, "-f", "--tail", "1"}, server_.url());
    ASSERT_TRUE(follow.waitFor(a2, std::chrono::seconds(5))) << follow.output();
    request(instances[a], "live");
    EXPECT_TRUE(follow.waitFor("GET /echo?m=live 200\n", std::chrono::seconds(5)))
        << follow.output();
  }

  // kill -9 of a workload: the new run is current, the killed one --previous.
  const int old_pid = instances[a]["status"]["pid"];
  ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
  ASSERT_TRUE(eventually(
      [&] {
        auto now = running();
        return now.count(a) && now[a]["status"]["pid"].get<int>() != old_pid;
      },
      std::chrono::seconds(15)));
  request(running()[a], "a3");
  ASSERT_TRUE(eventually([&] { return contains(logs({"--instance", a}), "m=a3"); }));
  const std::string current = logs({"--instance", a});
  EXPECT_FALSE(contains(current, "m=a1")) << current;
  const std::string previous = logs({"--instance", a, "--previous"});
  EXPECT_TRUE(contains(previous, "GET /echo?m=a1 200\n")) << previous;
  EXPECT_TRUE(contains(previous, "m=live")) << previous;
  EXPECT_FALSE(contains(previous, "m=a3")) << previous;
  auto no_previous = skiff({"logs", "chatty", "--instance", b, "--previous"});
  EXPECT_EQ(no_previous.exit_code, 1);
  EXPECT_TRUE(contains(no_previous.err, "has no previous run")) << no_previous.err;

  // Deleted: the instances go, their logs stay readable.
  auto deleted = skiff({"delete", "app", "chatty"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  ASSERT_TRUE(
      eventually([&] { return get(kInstances)["items"].empty(); }, std::chrono::seconds(15)));
  const std::string kept = logs({});
  EXPECT_TRUE(contains(kept, "[" + a + "] GET /echo?m=a3 200\n")) << kept;
  EXPECT_TRUE(contains(kept, "[" + b + "] GET /echo?m=b1 200\n")) << kept;
  EXPECT_EQ(logs({"--instance", b, "--tail", "2", "-f"}),
            "GET /echo?m=b1 200\nskiff-example web stopped\n")
      << "following a deleted instance ends after its last line";
}

TEST_F(LogsTest, ErrorsNameWhatIsWrong) {
  auto missing = skiff({"logs", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "application \"nope\" not found")) << missing.err;
  auto bad_since = skiff({"logs", "nope", "--since", "soon"});
  EXPECT_EQ(bad_since.exit_code, 1);
  EXPECT_TRUE(contains(bad_since.err, "--since")) << bad_since.err;

  auto r = httpRequest(server_.url(), "GET", kInstances + "/x/log?tailLines=abc");
  EXPECT_EQ(r.status, 400);
  json body = json::parse(r.body, nullptr, false);
  EXPECT_EQ(body.value("reason", ""), "BadRequest") << r.body;
  EXPECT_TRUE(contains(body.value("message", ""), "tailLines")) << r.body;
  EXPECT_TRUE(contains(body.value("message", ""), "\"abc\"")) << r.body;
  r = httpRequest(server_.url(), "GET", kInstances + "/x/log?follow=maybe");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(contains(r.body, "follow must be true or false")) << r.body;
  r = httpRequest(server_.url(), "GET", kInstances + "/x/log");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(contains(r.body, "instance \\\"x\\\" not found")) << r.body;
  r = httpRequest(server_.url(), "GET", "/api/v1/tenants/nope/applications/a/logs");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(contains(r.body, "tenant \\\"nope\\\" not found")) << r.body;
}

}  // namespace
}  // namespace skiff::test
