// End-to-end tests of the `skiff` CLI client: the real binary against a real server.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

std::string appYaml(const std::string& name, int replicas, const std::string& labels = "{}",
                    const std::string& cause = "") {
  std::string doc = "apiVersion: skiff.dev/v1\nkind: Application\nmetadata:\n  name: " + name +
                    "\n  labels: " + labels + "\n";
  if (!cause.empty()) doc += "  annotations: {skiff.dev/change-cause: \"" + cause + "\"}\n";
  return doc +
         "spec:\n"
         "  components:\n"
         "  - name: web\n"
         "    run: {command: /bin/sleep, args: [\"60\"]}\n"
         "    replicas: " +
         std::to_string(replicas) +
         "\n"
         "    ports: [{name: http, port: 8080}]\n"
         "  - name: cache\n"
         "    image: registry.local:5000/redis:7\n"
         "  dependsOn: [{from: web, to: cache}]\n";
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }

  CommandResult skiff(const std::vector<std::string>& args, const std::string& stdin_data = "") {
    return runSkiff(args, server_.url(), stdin_data);
  }
  std::string writeFile(const std::string& name, const std::string& content) {
    const std::string path = files_.path() + "/" + name;
    std::ofstream(path) << content;
    return path;
  }
  HttpResult getApp(const std::string& name, const std::string& tenant = "default") {
    return httpRequest(server_.url(), "GET", "/api/v1/tenants/" + tenant + "/applications/" + name);
  }

  TempDir dir_;
  TempDir files_;
  ServerProcess server_{dir_.path()};
};

TEST_F(CliTest, ApplyCreatesThenReportsUnchangedThenConfigured) {
  const std::string file = writeFile("shop.yaml", appYaml("shop", 1));
  auto first = skiff({"apply", "-f", file});
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "application.skiff.dev/shop created\n");
  // Generation counts spec writes; the controller's status writes do not move it.
  auto generation = [&] { return json::parse(getApp("shop").body)["metadata"]["generation"]; };
  EXPECT_EQ(generation(), 1);

  auto again = skiff({"apply", "-f", file});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "application.skiff.dev/shop unchanged\n");
  EXPECT_EQ(generation(), 1) << "an unchanged apply must not write the spec";

  writeFile("shop.yaml", appYaml("shop", 3));
  auto changed = skiff({"apply", "-f", file});
  EXPECT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_EQ(changed.out, "application.skiff.dev/shop configured\n");
  EXPECT_EQ(json::parse(getApp("shop").body)["spec"]["components"][0]["replicas"], 3);
  EXPECT_EQ(generation(), 2);
}

TEST_F(CliTest, ApplyFromStdinAndFromDirectoryAppliesTenantsFirst) {
  auto piped = skiff({"apply", "-f", "-"}, appYaml("one", 1) + "---\n" + appYaml("two", 1));
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, "application.skiff.dev/one created\napplication.skiff.dev/two created\n");

  // The application's file sorts first, but its tenant must exist before it.
  writeFile("a-app.yaml",
            "apiVersion: skiff.dev/v1\nkind: Application\nmetadata:\n  name: "
            "shop\n  tenant: acme\nspec:\n  components:\n  - name: web\n    run: "
            "{command: /bin/true}\n");
  writeFile("b-tenant.json",
            R"({"apiVersion":"skiff.dev/v1","kind":"Tenant","metadata":{"name":"acme"},)"
            R"("spec":{"displayName":"Acme Corp"}})");
  writeFile("notes.txt", "not a manifest");
  auto dir = skiff({"apply", "-f", files_.path()});
  EXPECT_EQ(dir.exit_code, 0) << dir.err;
  EXPECT_EQ(dir.out, "tenant.skiff.dev/acme created\napplication.skiff.dev/shop created\n");
  EXPECT_EQ(getApp("shop", "acme").status, 200);
}

TEST_F(CliTest, ApplyOfAnInvalidApplicationNamesTheFieldAndCreatesNothing) {
  std::string bad = appYaml("shop", 1);
  bad.replace(bad.find("port: 8080"), 10, "port: 70000");
  auto r = skiff({"apply", "-f", writeFile("bad.yaml", bad)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_TRUE(contains(r.err, "\n  spec.components[0].ports[0].port: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "70000")) << r.err;
  EXPECT_EQ(getApp("shop").status, 404);
}

TEST_F(CliTest, BadLocalInputIsReportedBeforeContactingTheServer) {
  // An unreachable server: had the CLI sent anything, the error would be about the server.
  const std::string nowhere = "http://127.0.0.1:1";
  auto missing = runSkiff({"apply", "-f", files_.path() + "/nope.yaml"}, nowhere);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "nope.yaml")) << missing.err;

  const std::string broken = writeFile("broken.yaml", "kind: Application\nmetadata: {name: [\n");
  auto unparsable = runSkiff({"apply", "-f", broken}, nowhere);
  EXPECT_EQ(unparsable.exit_code, 1);
  EXPECT_TRUE(contains(unparsable.err, "broken.yaml")) << unparsable.err;

  const std::string gadget =
      writeFile("gadget.yaml", appYaml("ok", 1) +
                                   "---\napiVersion: skiff.dev/v1\nkind: Gadget\nmetadata: "
                                   "{name: g}\n");
  auto unknown = runSkiff({"apply", "-f", gadget}, nowhere);
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(contains(unknown.err, "gadget.yaml (document 2)")) << unknown.err;
  EXPECT_TRUE(contains(unknown.err, "\"Gadget\"")) << unknown.err;
  for (const auto& r : {missing, unparsable, unknown})
    EXPECT_FALSE(contains(r.err, "cannot reach")) << r.err;
  // Nothing of the file reached the real server either.
  auto ok_app = runSkiff({"apply", "-f", gadget}, server_.url());
  EXPECT_EQ(ok_app.exit_code, 1);
  EXPECT_EQ(getApp("ok").status, 404);
}

TEST_F(CliTest, GetPrintsAlignedTablesJsonYamlNamesAndFiltersByLabel) {
  ASSERT_EQ(skiff({"apply", "-f", "-"}, appYaml("shop", 1, "{team: a}") + "---\n" +
                                            appYaml("blog-engine", 1, "{team: b}"))
                .exit_code,
            0);
  auto table = skiff({"get", "apps"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  auto rows = lines(table.out);
  ASSERT_EQ(rows.size(), 3u) << table.out;
  EXPECT_EQ(rows[0].rfind("NAME          COMPONENTS   REVISION   READY   AGE", 0), 0u) << table.out;
  EXPECT_TRUE(contains(table.out, "\nblog-engine   2            ")) << table.out;
  EXPECT_TRUE(contains(table.out, "\nshop          2            ")) << table.out;
  for (const auto& row : rows) EXPECT_NE(row.back(), ' ') << "no trailing spaces: " << row;

  auto as_json = skiff({"get", "applications", "-o", "json"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  json list = json::parse(as_json.out);
  EXPECT_EQ(list["kind"], "ApplicationList");
  EXPECT_EQ(list["items"].size(), 2u);

  auto one = skiff({"get", "app", "shop", "-o", "json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(json::parse(one.out)["metadata"]["labels"]["team"], "a");

  auto yaml = skiff({"get", "app", "shop", "-o", "yaml"});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_TRUE(contains(yaml.out, "name: shop\n")) << yaml.out;
  EXPECT_TRUE(contains(yaml.out, "kind: Application\n")) << yaml.out;

  auto selected = skiff({"get", "app", "-l", "team=b", "-o", "name"});
  ASSERT_EQ(selected.exit_code, 0) << selected.err;
  EXPECT_EQ(selected.out, "application.skiff.dev/blog-engine\n");

  auto all = skiff({"get", "app", "-A"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.out.rfind("TENANT    NAME", 0), 0u) << all.out;
  EXPECT_TRUE(contains(all.out, "\ndefault   shop ")) << all.out;

  auto tenants = skiff({"get", "tenants"});
  EXPECT_EQ(tenants.exit_code, 0) << tenants.err;
  EXPECT_EQ(lines(tenants.out)[0], "NAME      DISPLAY NAME   AGE") << tenants.out;

  auto missing = skiff({"get", "app", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err.rfind("error: ", 0), 0u) << missing.err;

  auto bad_kind = skiff({"get", "gadgets"});
  EXPECT_EQ(bad_kind.exit_code, 1);
  EXPECT_TRUE(contains(bad_kind.err, "unknown kind \"gadgets\"")) << bad_kind.err;
}

TEST_F(CliTest, DescribeShowsComponentsDependenciesAndRevisions) {
  ASSERT_EQ(skiff({"apply", "-f", "-"}, appYaml("shop", 2, "{team: a}")).exit_code, 0);
  ASSERT_TRUE(eventually([&] {
    return contains(skiff({"describe", "app", "shop"}).out, "Revisions:\n  REVISION");
  }));
  auto r = skiff({"describe", "application", "shop"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Name:         shop\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "Labels:       team=a\n")) << r.out;
  EXPECT_TRUE(
      contains(r.out, "  NAME    TYPE      IMAGE/COMMAND                 REPLICAS   PORTS\n"))
      << r.out;
  EXPECT_TRUE(
      contains(r.out, "  web     service   /bin/sleep 60                 2          http:8080\n"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "  cache   service   registry.local:5000/redis:7")) << r.out;
  EXPECT_TRUE(contains(r.out, "Depends On:\n  web -> cache\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "\n  1          ")) << r.out;  // revision 1 in its table
}

TEST_F(CliTest, DiffShowsWhatApplyWouldChangeWithKubectlExitCodes) {
  const std::string file = writeFile("shop.yaml", appYaml("shop", 1));
  auto absent = skiff({"diff", "-f", file});
  EXPECT_EQ(absent.exit_code, 1) << absent.err;
  EXPECT_TRUE(contains(absent.out,
                       "--- live/application/default/shop\n"
                       "+++ merged/application/default/shop\n@@ -0,0 +1,"))
      << absent.out;
  EXPECT_EQ(getApp("shop").status, 404) << "diff must not create";

  ASSERT_EQ(skiff({"apply", "-f", file}).exit_code, 0);
  auto same = skiff({"diff", "-f", file});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_EQ(same.out, "");

  const json before = json::parse(getApp("shop").body)["spec"];
  writeFile("shop.yaml", appYaml("shop", 4));
  auto changed = skiff({"diff", "-f", file});
  EXPECT_EQ(changed.exit_code, 1) << changed.err;
  int removed = 0, added = 0;
  for (const auto& line : lines(changed.out)) {
    if (line.rfind("---", 0) == 0 || line.rfind("+++", 0) == 0) continue;
    if (line[0] == '-') {
      ++removed;
      EXPECT_TRUE(contains(line, "replicas: 1")) << changed.out;
    }
    if (line[0] == '+') {
      ++added;
      EXPECT_TRUE(contains(line, "replicas: 4")) << changed.out;
    }
  }
  EXPECT_EQ(removed, 1) << changed.out;
  EXPECT_EQ(added, 1) << changed.out;
  EXPECT_FALSE(contains(changed.out, "resourceVersion")) << changed.out;
  const json after = json::parse(getApp("shop").body);
  EXPECT_EQ(after["spec"], before) << "diff must not write";
  EXPECT_EQ(after["metadata"]["generation"], 1) << "diff must not write";

  std::string bad = appYaml("shop", 1);
  bad.replace(bad.find("port: 8080"), 10, "port: 0");
  auto invalid = skiff({"diff", "-f", writeFile("bad.yaml", bad)});
  EXPECT_EQ(invalid.exit_code, 2);
  EXPECT_TRUE(contains(invalid.err, "spec.components[0].ports[0].port")) << invalid.err;
}

TEST_F(CliTest, RolloutHistoryListsRevisionsAndPrintsATemplate) {
  const std::string file = writeFile("shop.yaml", appYaml("shop", 1, "{}", "first"));
  ASSERT_EQ(skiff({"apply", "-f", file}).exit_code, 0);
  ASSERT_TRUE(eventually([&] {
    return lines(skiff({"rollout", "history", "shop"}).out).size() == 2;
  }));
  writeFile("shop.yaml", appYaml("shop", 2, "{}", "scale to two"));
  ASSERT_EQ(skiff({"apply", "-f", file}).out, "application.skiff.dev/shop configured\n");
  CommandResult history;
  ASSERT_TRUE(eventually([&] {
    history = skiff({"rollout", "history", "shop"});
    return lines(history.out).size() == 3;
  })) << history.out
      << history.err;
  auto rows = lines(history.out);
  EXPECT_EQ(rows[0].rfind("REVISION   CREATED", 0), 0u) << history.out;
  EXPECT_EQ(rows[1].rfind("1          ", 0), 0u) << history.out;
  EXPECT_TRUE(contains(rows[1], "   first")) << history.out;
  EXPECT_EQ(rows[2].rfind("2          ", 0), 0u) << history.out;
  EXPECT_TRUE(contains(rows[2], "   scale to two")) << history.out;

  auto first = skiff({"rollout", "history", "shop", "--revision", "1"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(contains(first.out, "replicas: 1")) << first.out;
  EXPECT_FALSE(contains(first.out, "replicas: 2")) << first.out;
  auto none = skiff({"rollout", "history", "shop", "--revision", "9"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(contains(none.err, "has no revision 9 (it has 1, 2)")) << none.err;
  EXPECT_EQ(skiff({"rollout", "history", "nope"}).exit_code, 1);
}

TEST_F(CliTest, DeleteByNameAndFromFile) {
  const std::string file = writeFile("apps.yaml", appYaml("one", 1) + "---\n" + appYaml("two", 1));
  ASSERT_EQ(skiff({"apply", "-f", file}).exit_code, 0);
  auto r = skiff({"delete", "app", "one"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "application.skiff.dev/one deleted\n");
  EXPECT_EQ(getApp("one").status, 404);

  auto again = skiff({"delete", "app", "one"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err.rfind("error: ", 0), 0u) << again.err;
  EXPECT_EQ(skiff({"delete", "app", "one", "--ignore-not-found"}).exit_code, 0);

  auto from_file = skiff({"delete", "-f", file, "--ignore-not-found"});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(from_file.out, "application.skiff.dev/two deleted\n");
  EXPECT_EQ(getApp("two").status, 404);
}

TEST_F(CliTest, VersionAndAnUnreachableServer) {
  auto v = skiff({"version"});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.out, std::string("Client Version: ") + SKIFF_VERSION +
                       "\nServer Version: " + SKIFF_VERSION + "\n");

  const std::string url = server_.url();
  server_.stop();
  auto get = runSkiff({"get", "apps"}, url);
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_EQ(get.err.rfind("error: cannot reach the Skiff server at " + url + ": ", 0), 0u)
      << get.err;
  EXPECT_TRUE(contains(get.err, "(set --server or SKIFF_SERVER)")) << get.err;

  // --server wins over SKIFF_SERVER.
  auto flag = runSkiff({"get", "apps", "--server", "http://127.0.0.1:1"}, url);
  EXPECT_TRUE(contains(flag.err, "at http://127.0.0.1:1: ")) << flag.err;

  auto down = runSkiff({"version"}, url);
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_TRUE(contains(down.out, std::string("Client Version: ") + SKIFF_VERSION + "\n"));
  EXPECT_TRUE(contains(down.out, "Server Version: unreachable (cannot reach")) << down.out;
}

// `get -w` runs until interrupted, so it is driven here rather than through runSkiff().
TEST_F(CliTest, WatchPrintsCurrentObjectsThenEachChange) {
  ASSERT_EQ(skiff({"apply", "-f", "-"}, appYaml("shop", 1)).exit_code, 0);
  int out_pipe[2];
  ASSERT_EQ(pipe2(out_pipe, O_CLOEXEC), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    std::string bin = skiffBinary();
    std::string server = server_.url();
    setenv("SKIFF_TOKEN", server_.adminToken().c_str(), 1);
    setenv("SKIFF_CA", server_.caFile().c_str(), 1);
    execl(bin.c_str(), bin.c_str(), "get", "apps", "-w", "-o", "name", "--server", server.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out_pipe[1]);
  std::string out;
  auto read_until = [&](const std::string& needle) {
    return eventually([&] {
      pollfd p{out_pipe[0], POLLIN, 0};
      if (poll(&p, 1, 50) > 0) {
        char buf[4096];
        ssize_t n = read(out_pipe[0], buf, sizeof buf);
        if (n > 0) out.append(buf, static_cast<size_t>(n));
      }
      return contains(out, needle);
    });
  };
  EXPECT_TRUE(read_until("application.skiff.dev/shop\n")) << out;
  ASSERT_EQ(skiff({"apply", "-f", "-"}, appYaml("blog", 1)).exit_code, 0);
  EXPECT_TRUE(read_until("application.skiff.dev/blog\n")) << out;
  ::kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  close(out_pipe[0]);
}

}  // namespace
}  // namespace skiff::test
