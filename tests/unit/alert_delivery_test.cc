// Delivering notifications (alert/delivery.h, alert/receiver.h, alert/smtp.h): retries with
// exponential backoff on failures that may pass (time injected), the lanes of the delivery
// queue, the webhook and Alertmanager bodies, the HMAC signature, and the SMTP dialogue against
// a small fake server in this process.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "alert/delivery.h"
#include "alert/receiver.h"
#include "alert/smtp.h"

namespace skiff::alert {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(DeliverWithRetry, BacksOffExponentiallyOnRetryableFailuresUpToFiveAttempts) {
  std::vector<milliseconds> slept;
  int calls = 0;
  auto outcome = deliverWithRetry(
      [&] {
        ++calls;
        return AttemptResult{false, true, 503, "HTTP 503"};
      },
      RetryPolicy{},
      [&](milliseconds d) {
        slept.push_back(d);
        return true;
      });
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(outcome.attempts, 5);
  EXPECT_EQ(outcome.code, 503);
  EXPECT_EQ(slept, (std::vector<milliseconds>{seconds(1), seconds(2), seconds(4), seconds(8)}));
}

TEST(DeliverWithRetry, StopsAtSuccessAtAFinalAnswerAndAtShutdown) {
  int calls = 0;
  auto ok = deliverWithRetry(
      [&] {
        return ++calls < 3 ? AttemptResult{false, true, 0, "connection refused"}
                           : AttemptResult{true, false, 200, ""};
      },
      RetryPolicy{}, [](milliseconds) { return true; });
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.attempts, 3);

  calls = 0;
  auto final_answer = deliverWithRetry(
      [&] {
        ++calls;
        return AttemptResult{false, false, 400, "HTTP 400"};
      },
      RetryPolicy{}, [](milliseconds) { return true; });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(final_answer.attempts, 1);

  calls = 0;
  auto interrupted = deliverWithRetry(
      [&] {
        ++calls;
        return AttemptResult{false, true, 500, "HTTP 500"};
      },
      RetryPolicy{}, [](milliseconds) { return false; });
  EXPECT_EQ(calls, 1);
  EXPECT_NE(interrupted.error.find("shutting down"), std::string::npos);
}

TEST(HttpAttempt, ClassifiesAnswers) {
  auto answering = [](int status) {
    return [status](const net::ClientRequest&) -> Result<net::ClientResponse> {
      net::ClientResponse r;
      r.status = status;
      r.body = "nope";
      return r;
    };
  };
  EXPECT_TRUE(httpAttempt(answering(204), {}).ok);
  EXPECT_TRUE(httpAttempt(answering(502), {}).retryable);
  EXPECT_TRUE(httpAttempt(answering(429), {}).retryable);
  AttemptResult denied = httpAttempt(answering(403), {});
  EXPECT_FALSE(denied.ok || denied.retryable);
  EXPECT_EQ(denied.error, "HTTP 403: nope");
  AttemptResult down = httpAttempt(
      [](const net::ClientRequest&) -> Result<net::ClientResponse> {
        return unavailable("cannot connect to 127.0.0.1:1");
      },
      {});
  EXPECT_TRUE(down.retryable);
  EXPECT_EQ(down.code, 0);
}

TEST(DeliveryQueue, RunsALanesJobsInOrderAndLanesInParallel) {
  DeliveryQueue queue(2);
  queue.start();
  std::mutex mu;
  std::vector<int> order;
  std::atomic<bool> release{false};
  std::atomic<bool> other_ran{false};
  // Lane a's first job blocks; its second must wait for it, lane b must not.
  queue.push("a", [&](const Sleeper&) {
    while (!release) std::this_thread::sleep_for(milliseconds(1));
    std::lock_guard lock(mu);
    order.push_back(1);
  });
  queue.push("a", [&](const Sleeper&) {
    std::lock_guard lock(mu);
    order.push_back(2);
  });
  queue.push("b", [&](const Sleeper&) { other_ran = true; });
  for (int i = 0; i < 2000 && !other_ran; ++i) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_TRUE(other_ran);
  release = true;
  for (int i = 0; i < 2000 && queue.pending() > 0; ++i)
    std::this_thread::sleep_for(milliseconds(1));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(DeliveryQueue, StopCutsSleepsShortAndRefusesNewJobs) {
  DeliveryQueue queue(1);
  queue.start();
  std::atomic<int> slept_fully{-1};
  std::atomic<bool> started{false};
  queue.push("a", [&](const Sleeper& sleep) {
    started = true;
    slept_fully = sleep(std::chrono::hours(1)) ? 1 : 0;
  });
  for (int i = 0; i < 2000 && !started; ++i) std::this_thread::sleep_for(milliseconds(1));
  const auto before = std::chrono::steady_clock::now();
  queue.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, seconds(5));
  EXPECT_EQ(slept_fully, 0);
  EXPECT_FALSE(queue.push("a", [](const Sleeper&) {}));
}

Notification notification() {
  Alert a;
  a.tenant = "acme";
  a.rule = "LogTimeout";
  a.labels = {{"alertname", "LogTimeout"}, {"application", "shop"}, {"tenant", "acme"}};
  a.annotations = {{"summary", "shop timed out"}};
  a.fingerprint = "0123456789abcdef";
  a.state = AlertState::kFiring;
  a.value = 3;
  a.active_at = TimePoint(milliseconds(1'800'000'000'250));
  a.fired_at = a.active_at;
  Alert b = a;
  b.labels["application"] = "blog";
  b.annotations = {{"summary", "blog timed out"}};
  b.state = AlertState::kResolved;
  b.resolved_at = a.active_at + seconds(10);
  Notification n;
  n.tenant = "acme";
  n.receiver = "ops";
  n.rule = "LogTimeout";
  n.group_key = "acme/ops/LogTimeout{alertname=\"LogTimeout\"}";
  n.group_labels = {{"alertname", "LogTimeout"}};
  n.alerts = {a, b};
  n.at = a.active_at + seconds(20);
  n.group_interval = std::chrono::minutes(1);
  return n;
}

TEST(Payloads, WebhookBodyIsAlertmanagerLike) {
  const json body = json::parse(webhookBody(notification()));
  EXPECT_EQ(body["version"], "4");
  EXPECT_EQ(body["status"], "firing");
  EXPECT_EQ(body["receiver"], "ops");
  EXPECT_EQ(body["groupLabels"], json({{"alertname", "LogTimeout"}}));
  EXPECT_EQ(body["commonLabels"], json({{"alertname", "LogTimeout"}, {"tenant", "acme"}}));
  EXPECT_EQ(body["commonAnnotations"], json::object());
  ASSERT_EQ(body["alerts"].size(), 2u);
  EXPECT_EQ(body["alerts"][0]["status"], "firing");
  EXPECT_EQ(body["alerts"][0]["startsAt"], "2027-01-15T08:00:00.250Z");
  EXPECT_EQ(body["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(body["alerts"][0]["value"], "3");
  EXPECT_EQ(body["alerts"][0]["fingerprint"], "0123456789abcdef");
  EXPECT_EQ(body["alerts"][1]["status"], "resolved");
  EXPECT_EQ(body["alerts"][1]["endsAt"], "2027-01-15T08:00:10.250Z");
}

TEST(Payloads, AlertmanagerBodyEndsFiringAlertsAheadAndResolvedOnesAtResolution) {
  const json body = json::parse(alertmanagerBody(notification(), std::chrono::minutes(5)));
  ASSERT_EQ(body.size(), 2u);
  EXPECT_EQ(body[0]["labels"]["application"], "shop");
  EXPECT_EQ(body[0]["startsAt"], "2027-01-15T08:00:00.250Z");
  EXPECT_EQ(body[0]["endsAt"], "2027-01-15T08:05:20.250Z");
  EXPECT_EQ(body[1]["endsAt"], "2027-01-15T08:00:10.250Z");
  EXPECT_TRUE(body[0].contains("generatorURL"));
}

TEST(Payloads, SignatureIsHexHmacSha256) {
  // RFC 4231, test case 2.
  EXPECT_EQ(signatureOf("what do ya want for nothing?", "Jefe"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Payloads, EmailMessageKeepsLineBreaksOutOfHeaders) {
  Notification n = notification();
  n.group_labels["application"] = "shop\r\nBcc: evil@example.com";
  EmailTarget target;
  target.smarthost = "127.0.0.1:25";
  target.from = "skiff@example.com";
  target.to = {"ops@example.com", "dev@example.com"};
  const std::string m = emailMessage(n, target);
  EXPECT_NE(m.find("Subject: [FIRING:1] LogTimeout application=shop  Bcc: evil@example.com\r\n"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("\r\nBcc:"), std::string::npos);
  EXPECT_NE(m.find("To: ops@example.com, dev@example.com\r\n"), std::string::npos);
  EXPECT_NE(m.find("[firing] LogTimeout value=3"), std::string::npos);
  EXPECT_NE(m.find("[resolved] LogTimeout"), std::string::npos);
}

// A fake SMTP server: answers a scripted dialogue on one connection and records what it got.
class FakeSmtp {
 public:
  explicit FakeSmtp(int auth_reply = 235) : auth_reply_(auth_reply) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 1);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeSmtp() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> commands() {
    std::lock_guard lock(mu_);
    return commands_;
  }
  std::string data() {
    std::lock_guard lock(mu_);
    return data_;
  }

 private:
  void serve() {
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    auto say = [c](const std::string& line) { ::send(c, line.data(), line.size(), MSG_NOSIGNAL); };
    say("220 fake ESMTP\r\n");
    std::string buffer;
    bool in_data = false;
    char chunk[4096];
    while (true) {
      ssize_t n = ::recv(c, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
      size_t end;
      while (!in_data && (end = buffer.find("\r\n")) != std::string::npos) {
        std::string line = buffer.substr(0, end);
        buffer.erase(0, end + 2);
        {
          std::lock_guard lock(mu_);
          commands_.push_back(line);
        }
        if (line.rfind("EHLO", 0) == 0) {
          say("250-fake\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n");
        } else if (line.rfind("AUTH", 0) == 0) {
          say(std::to_string(auth_reply_) + " auth\r\n");
        } else if (line == "DATA") {
          say("354 go on\r\n");
          in_data = true;
        } else if (line == "QUIT") {
          say("221 bye\r\n");
          ::close(c);
          return;
        } else {
          say("250 ok\r\n");
        }
      }
      if (in_data && (end = buffer.find("\r\n.\r\n")) != std::string::npos) {
        {
          std::lock_guard lock(mu_);
          data_ = buffer.substr(0, end + 2);
        }
        buffer.erase(0, end + 5);
        in_data = false;
        say("250 queued\r\n");
      }
    }
    ::close(c);
  }

  const int auth_reply_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> commands_;
  std::string data_;
};

TEST(Smtp, SpeaksTheDialogueWithAuthAndDotStuffing) {
  FakeSmtp server;
  SmtpRequest r;
  r.smarthost = server.address();
  r.username = "skiff";
  r.password = "s3cret";
  r.from = "skiff@example.com";
  r.to = {"ops@example.com", "dev@example.com"};
  r.message = "Subject: hi\r\n\r\nline one\r\n.leading dot\r\nbare\nend";
  r.timeout = seconds(5);
  Status s = sendMail(r);
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(server.commands(),
            (std::vector<std::string>{
                "EHLO skiff", "AUTH PLAIN AHNraWZmAHMzY3JldA==", "MAIL FROM:<skiff@example.com>",
                "RCPT TO:<ops@example.com>", "RCPT TO:<dev@example.com>", "DATA", "QUIT"}));
  EXPECT_EQ(server.data(), "Subject: hi\r\n\r\nline one\r\n..leading dot\r\nbare\r\nend\r\n");
}

TEST(Smtp, PermanentAndTransientFailuresAreTold) {
  {
    FakeSmtp refusing(535);
    SmtpRequest r;
    r.smarthost = refusing.address();
    r.username = "skiff";
    r.from = "a@b";
    r.to = {"c@d"};
    r.timeout = seconds(5);
    Status s = sendMail(r);
    EXPECT_EQ(s.code(), StatusCode::kInvalid);
    EXPECT_NE(s.message().find("AUTH: the server answered 535"), std::string::npos) << s.message();
  }
  // Nobody listens: worth another try.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  SmtpRequest r;
  r.smarthost = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  r.from = "a@b";
  r.to = {"c@d"};
  r.timeout = seconds(2);
  EXPECT_EQ(sendMail(r).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace skiff::alert
