#pragma once
// Per-thread reuse of one class's memory, for objects made and destroyed once per request that
// are too large for glibc's per-thread cache (chunks over 1032 bytes), where every malloc and
// free goes through the arena's bins. Derive `class X : ThreadRecycled<X>`: `new X` takes a block
// this thread freed earlier when there is one. At most Keep blocks are kept per thread, and a
// thread's blocks are freed when it exits.

#include <cstddef>
#include <new>

namespace ghala {

template <class T, std::size_t Keep = 64>
class ThreadRecycled {
 public:
  static void* operator new(std::size_t n) {
    auto& s = stack();
    if (n == sizeof(T) && s.count > 0) return s.slots[--s.count];
    return ::operator new(n);
  }
  static void operator delete(void* p, std::size_t n) noexcept {
    auto& s = stack();
    if (n == sizeof(T) && s.count < Keep) {
      s.slots[s.count++] = p;
      return;
    }
    ::operator delete(p, n);
  }

 private:
  struct Stack {
    void* slots[Keep];
    std::size_t count = 0;
    ~Stack() {
      while (count > 0) ::operator delete(slots[--count], sizeof(T));
    }
  };
  static Stack& stack() noexcept {
    thread_local Stack s;
    return s;
  }
};

}  // namespace ghala
