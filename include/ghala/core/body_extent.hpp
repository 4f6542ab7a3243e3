#pragma once
// A range of pages in one of the body arena's memory files (core/body_arena.hpp). Its own header
// so that SharedBytes, which holds one, need not include the arena.

#include <cstdint>

namespace ghala {

struct BodyExtent {
  char* data = nullptr;       // the extent's bytes, mapped read-write
  int fd = -1;                // the memory file, for sendfile
  std::uint64_t offset = 0;   // of the extent in the file
  std::uint64_t length = 0;   // whole pages
  std::uint32_t segment = 0;  // index of the segment, for release
};

}  // namespace ghala
