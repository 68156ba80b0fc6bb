#include "build/dockerfile.h"

#include <gtest/gtest.h>

namespace skiff::build {
namespace {

TEST(DockerfileTest, ParsesStagesAndInstructions) {
  auto file = parseDockerfile(R"(# syntax comment
ARG BASE=scratch
FROM ${BASE} AS base
ENV A=1 B="two words"
ENV LEGACY value with spaces
LABEL org.example.team=shop "quoted key"=v
WORKDIR /app
USER 1000:1000
COPY --chown=1000 a.txt b/ /app/
RUN echo hello && \
    # a comment inside a continuation
    echo world
EXPOSE 8080 53/udp
ENTRYPOINT ["/bin/server", "--flag"]
CMD serve

from base
copy --from=base /app /app
)");
  ASSERT_TRUE(file.ok()) << file.status().toString();
  ASSERT_EQ(file->global_args.size(), 1u);
  EXPECT_EQ(file->global_args[0].pairs[0],
            (std::pair<std::string, std::string>{"BASE", "scratch"}));
  ASSERT_EQ(file->stages.size(), 2u);
  const Stage& first = file->stages[0];
  EXPECT_EQ(first.name, "base");
  EXPECT_EQ(first.from.words[0], "${BASE}");
  EXPECT_EQ(first.line, 3);
  ASSERT_EQ(first.instructions.size(), 10u);
  const auto& env = first.instructions[0];
  EXPECT_EQ(env.op, Op::kEnv);
  ASSERT_EQ(env.pairs.size(), 2u);
  EXPECT_EQ(env.pairs[1].second, "two words");
  EXPECT_EQ(first.instructions[1].pairs[0],
            (std::pair<std::string, std::string>{"LEGACY", "value with spaces"}));
  EXPECT_EQ(first.instructions[2].pairs[1].first, "quoted key");
  const auto& copy = first.instructions[5];
  EXPECT_EQ(copy.op, Op::kCopy);
  EXPECT_EQ(copy.flags.at("chown"), "1000");
  EXPECT_EQ(copy.words, (std::vector<std::string>{"a.txt", "b/", "/app/"}));
  const auto& run = first.instructions[6];
  EXPECT_EQ(run.line, 10);
  EXPECT_TRUE(run.shell_form);
  EXPECT_EQ(run.command[0].find("echo hello &&"), 0u);
  EXPECT_NE(run.command[0].find("echo world"), std::string::npos);
  EXPECT_EQ(first.instructions[7].words, (std::vector<std::string>{"8080", "53/udp"}));
  const auto& entrypoint = first.instructions[8];
  EXPECT_FALSE(entrypoint.shell_form);
  EXPECT_EQ(entrypoint.command, (std::vector<std::string>{"/bin/server", "--flag"}));
  EXPECT_TRUE(first.instructions[9].shell_form);
  const Stage& second = file->stages[1];
  EXPECT_EQ(second.index, 1);
  EXPECT_EQ(second.instructions[0].flags.at("from"), "base");
}

TEST(DockerfileTest, RefusesWhatItCannotRunWithTheLine) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           Case{"FROM scratch\nHEALTHCHECK CMD true\n", "line 2: HEALTHCHECK is not supported"},
           Case{"FROM scratch\nFROBNICATE\n", "line 2: unknown instruction \"FROBNICATE\""},
           Case{"RUN true\nFROM scratch\n", "line 1: RUN before the first FROM"},
           Case{"FROM scratch\n\nCOPY only-one\n", "line 3: COPY needs SOURCE... DEST"},
           Case{"FROM scratch\nADD https://example.test/x /x\n", "line 2: ADD of a URL"},
           Case{"FROM scratch\nCOPY --chmod=600 a /a\n", "line 2: COPY flag --chmod=600 is not"},
           Case{"FROM scratch\nRUN --mount=type=cache true\n", "line 2: RUN flags"},
           Case{"FROM a AS x\nFROM b AS x\n", "line 2: stage name \"x\" is used twice"},
           Case{"FROM scratch\nENV A=\"open\n", "line 2: unterminated \" quote"},
           Case{"FROM scratch\nFROM --platform=linux/arm64 b\n", "line 2: FROM --platform"},
           Case{"# only a comment\n", "Dockerfile has no FROM"},
       }) {
    auto file = parseDockerfile(c.text);
    ASSERT_FALSE(file.ok()) << c.text;
    EXPECT_EQ(file.status().code(), StatusCode::kInvalid);
    EXPECT_NE(file.status().message().find(c.message), std::string::npos)
        << file.status().message();
  }
}

TEST(DockerfileTest, ExpandsVariables) {
  const std::map<std::string, std::string> vars{{"A", "1"}, {"EMPTY", ""}, {"DIR", "/srv"}};
  auto expand = [&](const char* word) { return expandVariables(word, vars).value(); };
  EXPECT_EQ(expand("$A-${A}"), "1-1");
  EXPECT_EQ(expand("${DIR}/app"), "/srv/app");
  EXPECT_EQ(expand("$UNSET."), ".");
  EXPECT_EQ(expand("${EMPTY:-fallback} ${A:-fallback}"), "fallback 1");
  EXPECT_EQ(expand("${A:+set}${EMPTY:+set}"), "set");
  EXPECT_EQ(expand("\\$A costs $"), "$A costs $");
  EXPECT_FALSE(expandVariables("${A", vars).ok());
  EXPECT_FALSE(expandVariables("${A?err}", vars).ok());
  EXPECT_FALSE(expandVariables("${}", vars).ok());
}

}  // namespace
}  // namespace skiff::build
