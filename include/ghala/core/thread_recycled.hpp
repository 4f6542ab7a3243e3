#pragma once
// Per-thread reuse of one class's memory, for objects made and destroyed once per request that
// are too large for glibc's per-thread cache (chunks over 1032 bytes), where every malloc and
// free goes through the arena's bins. Derive `class X : ThreadRecycled<X>`: `new X` takes a block
// this thread freed earlier when there is one. At most Keep blocks are kept per thread, and a
// thread's blocks are freed when it exits. Under AddressSanitizer a kept block is poisoned, so a
// use after delete is still reported.

#include <cstddef>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define GHALA_RECYCLED_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define GHALA_RECYCLED_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define GHALA_RECYCLED_POISON(p, n) ((void)(p), (void)(n))
#define GHALA_RECYCLED_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace ghala {

template <class T, std::size_t Keep = 64>
class ThreadRecycled {
 public:
  static void* operator new(std::size_t n) {
    auto& s = stack();
    if (n == sizeof(T) && s.count > 0) {
      void* p = s.slots[--s.count];
      GHALA_RECYCLED_UNPOISON(p, n);
      return p;
    }
    return ::operator new(n);
  }
  static void operator delete(void* p, std::size_t n) noexcept {
    auto& s = stack();
    if (n == sizeof(T) && s.count < Keep) {
      GHALA_RECYCLED_POISON(p, n);
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
      while (count > 0) {
        void* p = slots[--count];
        GHALA_RECYCLED_UNPOISON(p, sizeof(T));
        ::operator delete(p, sizeof(T));
      }
    }
  };
  static Stack& stack() noexcept {
    thread_local Stack s;
    return s;
  }
};

}  // namespace ghala
