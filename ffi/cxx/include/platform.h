// The national platform's side of the idcard bridge: implement these interfaces in C++ and
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

// The platform's PKI, officer side: signs a command's message for an officer (with the
// officer's certificate key, through whatever middleware the platform uses). See
// idcard::engine::auth for the message.
class OfficerSigner {
 public:
  virtual ~OfficerSigner() = default;
  // The id of the key `officer` signs with (8 bytes).
  virtual rust::Vec<std::uint8_t> key_id(rust::Str officer) const = 0;
  // The signature of `message` by `officer`'s key.
  virtual rust::Vec<std::uint8_t> sign(rust::Str officer, rust::Slice<const std::uint8_t> message) const = 0;
};

// The platform's PKI, record side: whether `signature` (by key `key_id`) is `officer`'s over
// `message`. Checked before anything else, outside the engine's lock.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual bool verify(rust::Str officer, rust::Slice<const std::uint8_t> key_id,
                      rust::Slice<const std::uint8_t> message,
                      rust::Slice<const std::uint8_t> signature) const = 0;
};

}  // namespace platform
}  // namespace idcard
