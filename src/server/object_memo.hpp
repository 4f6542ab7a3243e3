#pragma once
// A small per-thread memo of values derived from stored objects, for the hit path.
//
// Stored objects are immutable once published, so what a hit derives from one (parsed
// directives, serialised fields) is the same every time: a worker keeps the last results in a
// direct-mapped table indexed by object id instead of recomputing them per hit. A slot names its
// object by a weak_ptr compared by owner, not by id or address: a 304 refresh or a soft purge
// publishes a copy with the same id, and a freed object's address can be reused, but a control
// block cannot be reused while a weak_ptr holds it. So a slot never answers for another object.
// What a slot keeps alive is the object's shell (one allocation with make_shared), not its body.
// Values may point into their object's headers: they are used only while the caller holds it.
// One instance per thread (thread_local); not thread-safe.

#include <array>
#include <cstddef>
#include <memory>

#include "ghala/cache/object.hpp"

namespace ghala::server {

template <typename T, std::size_t N = 64>
class ObjectMemo {
 public:
  // The value for obj; `compute(T&)` fills it when the slot held another object.
  template <typename Compute>
  const T& get(const cache::ObjectPtr& obj, Compute&& compute) {
    auto& slot = slots_[obj->id % N];
    if (slot.object.owner_before(obj) || obj.owner_before(slot.object)) {
      slot.object.reset();  // compute may read the slot's old value but must not trust it
      compute(slot.value);
      slot.object = obj;
    }
    return slot.value;
  }
  void clear() { slots_ = {}; }

 private:
  struct Slot {
    std::weak_ptr<const cache::StoredObject> object;
    T value{};
  };
  std::array<Slot, N> slots_{};
};

}  // namespace ghala::server
