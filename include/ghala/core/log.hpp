#pragma once
// Diagnostic log (not the access log): one line per event on stderr, with a UTC timestamp and a
// level. Thread-safe; meant for rare events (startup, reloads, errors), never per request on the
// hot path unless something went wrong.

#include <string_view>

namespace ghala {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
void log_line(LogLevel level, std::string_view message);

inline void log_debug(std::string_view m) {
  if (log_level() <= LogLevel::Debug) log_line(LogLevel::Debug, m);
}
inline void log_info(std::string_view m) {
  log_line(LogLevel::Info, m);
}
inline void log_warn(std::string_view m) {
  log_line(LogLevel::Warn, m);
}
inline void log_error(std::string_view m) {
  log_line(LogLevel::Error, m);
}

}  // namespace ghala
