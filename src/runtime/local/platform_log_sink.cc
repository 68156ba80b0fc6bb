#include "runtime/local/platform_log_sink.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>

#include "runtime/local/log_files.h"

namespace skiff::runtime {

namespace {

class LogFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LogFileSink(std::unique_ptr<LogFileWriter> writer) : writer_(std::move(writer)) {
    formatter_ = std::make_unique<spdlog::pattern_formatter>("%l %v");
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t text;
    formatter_->format(msg, text);
    const LogStream stream =
        msg.level >= spdlog::level::warn ? LogStream::kStderr : LogStream::kStdout;
    // A failed write cannot be logged (it would come back here); the console still has it.
    (void)writer_->append(stream, std::string_view(text.data(), text.size()), msg.time);
  }
  void flush_() override {}
  // The file's form is fixed (the time and stream come from the writer), whatever pattern
  // the console is given.
  void set_pattern_(const std::string&) override {}
  void set_formatter_(std::unique_ptr<spdlog::formatter>) override {}

 private:
  std::unique_ptr<LogFileWriter> writer_;
};

}  // namespace

Status addPlatformLogFile(const std::string& dir, LogLimits limits) {
  auto writer = LogFileWriter::open(dir, limits);
  if (!writer.ok()) return writer.status();
  spdlog::default_logger()->sinks().push_back(
      std::make_shared<LogFileSink>(std::move(writer).value()));
  return Status::ok();
}

}  // namespace skiff::runtime
