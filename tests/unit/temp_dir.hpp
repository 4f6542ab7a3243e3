#pragma once
// A temporary directory for one unit test, removed with everything in it when the object goes.
// Shared by every module's tests (include it as "../temp_dir.hpp").

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace ghala::testing {

class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "ghala-test") {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside the directory (nothing is created).
  std::string sub(const std::string& name) const { return path_ + "/" + name; }
  // A directory inside it, created with its parents.
  std::string mkdir(const std::string& name) const {
    const auto p = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(p);
    return p.string();
  }
  // A file inside it holding `text`.
  std::string write(const std::string& name, std::string_view text) const {
    const auto p = std::filesystem::path(path_) / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

 private:
  std::string path_;
};

}  // namespace ghala::testing
