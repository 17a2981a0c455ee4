// The national platform's side of the idcard bridge: implement these two interfaces in C++ and
// hand them to idcard::platform::open_engine (see ffi/cxx/src/lib.rs and
// tests/cpp/bridge_test.cpp). Both are called from the engine while it validates commands, from
// any thread: implementations must be thread-safe and must not throw.
#pragma once

#include <cstdint>
#include <memory>

#include "rust/cxx.h"

namespace idcard {
namespace platform {

struct Person;  // defined by the bridge (lib.rs.h)

// The national population directory.
class Directory {
 public:
  virtual ~Directory() = default;
  // Fill `out` and return true when the directory knows `number` (18 characters).
  virtual bool find_person(rust::Str number, Person &out) const = 0;
};

// The fingerprint matcher.
class Matcher {
 public:
  virtual ~Matcher() = default;
  // Whether `sample` matches the fingerprints enrolled for `number`.
  virtual bool matches(rust::Str number, rust::Slice<const std::uint8_t> sample) const = 0;
};

}  // namespace platform
}  // namespace idcard
