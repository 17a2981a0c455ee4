// idcard.hpp: a header-only C++17 wrapper over the C interface (idcard.h) for bank and airline
// C++ code. RAII for the verifier; no exceptions: every call returns a Result, which holds the
// value or an Error (the C result code and the message of idc_last_error_message()).
//
//   auto v = idcard::Verifier::open("/var/lib/idcard/bank.idcs");
//   if (!v) { std::cerr << v.error().message << "\n"; return 1; }
//   auto s = v.value().verify("11010519491231002X", 20050601);
//   if (s && s.value() == idcard::CardStatus::Lost) { /* refuse the card */ }
//
// Thread safety as in idcard.h: one Verifier may be used from any number of threads at once.
// Compiles with -std=c++17 -Wall -Wextra -Werror (and with -fno-exceptions).

#ifndef IDCARD_HPP
#define IDCARD_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "idcard.h"

namespace idcard {

/// The status of a card (the IDC_CARD_* values).
enum class CardStatus : std::uint8_t {
  Valid = IDC_CARD_VALID,
  Lost = IDC_CARD_LOST,
  Stolen = IDC_CARD_STOLEN,
  Superseded = IDC_CARD_SUPERSEDED,
  Invalidated = IDC_CARD_INVALIDATED,
  Stale = IDC_CARD_STALE,
  InvalidNumber = IDC_CARD_INVALID_NUMBER,
};

/// The name of a status, as in the CLI and CSV files.
inline const char *status_name(CardStatus s) {
  switch (s) {
    case CardStatus::Valid: return "valid";
    case CardStatus::Lost: return "lost";
    case CardStatus::Stolen: return "stolen";
    case CardStatus::Superseded: return "superseded";
    case CardStatus::Invalidated: return "invalidated";
    case CardStatus::Stale: return "stale";
    case CardStatus::InvalidNumber: return "invalid_number";
  }
  return "unknown";
}

/// A failed call: the C result code and what went wrong.
struct Error {
  int code = IDC_OK;
  std::string message;

  /// The code's name, e.g. "IDC_ERR_CORRUPT_FILE".
  const char *name() const { return idc_result_name(code); }

  /// The error of the last failed call on this thread.
  static Error last(int code) { return Error{code, idc_last_error_message()}; }
};

/// A value or an error.
template <class T>
class Result {
 public:
  Result(T value) : ok_(true), value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : ok_(false), error_(std::move(error)) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  /// The value; only when ok().
  T &value() { return value_; }
  const T &value() const { return value_; }
  /// The error; only when !ok().
  const Error &error() const { return error_; }

 private:
  bool ok_;
  T value_{};
  Error error_{};
};

/// Success or an error.
template <>
class Result<void> {
 public:
  Result() = default;
  Result(Error error) : ok_(false), error_(std::move(error)) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error &error() const { return error_; }

 private:
  bool ok_ = true;
  Error error_{};
};

/// A verifier over a snapshot (plus applied deltas). Move-only; freed on destruction.
class Verifier {
 public:
  /// Open a snapshot file signed by a key the trust file pins (a bank's call: the default
  /// maximum age of a day).
  static Result<Verifier> open_trusted(const std::string &path, const std::string &trust_file) {
    idc_verifier *v = nullptr;
    int rc = idc_verifier_open_trusted(path.c_str(), trust_file.c_str(), &v);
    if (rc != IDC_OK) return Error::last(rc);
    return Verifier(v);
  }

  /// Open a snapshot file with options (NULL: the defaults, which require a trust file).
  static Result<Verifier> open(const std::string &path, const idc_verifier_options *options) {
    idc_verifier *v = nullptr;
    int rc = idc_verifier_open_with(path.c_str(), options, &v);
    if (rc != IDC_OK) return Error::last(rc);
    return Verifier(v);
  }

  Verifier() = default;
  Verifier(const Verifier &) = delete;
  Verifier &operator=(const Verifier &) = delete;
  Verifier(Verifier &&other) noexcept : v_(std::exchange(other.v_, nullptr)) {}
  Verifier &operator=(Verifier &&other) noexcept {
    if (this != &other) {
      idc_verifier_free(v_);
      v_ = std::exchange(other.v_, nullptr);
    }
    return *this;
  }
  ~Verifier() { idc_verifier_free(v_); }

  /// The status of one card (an invalid number or date is CardStatus::InvalidNumber).
  Result<CardStatus> verify(std::string_view number, std::uint32_t valid_from_yyyymmdd) const {
    std::uint8_t s = 0;
    int rc = idc_verify(v_, number.data(), number.size(), valid_from_yyyymmdd, &s);
    if (rc != IDC_OK) return Error::last(rc);
    return static_cast<CardStatus>(s);
  }

  /// Statuses of n cards given as n packed 18-byte numbers.
  Result<void> verify_batch(const char *packed, std::size_t n, const std::uint32_t *valid_from_yyyymmdd,
                            std::uint8_t *out_status) const {
    int rc = idc_verify_batch(v_, packed, n, valid_from_yyyymmdd, out_status);
    if (rc != IDC_OK) return Error::last(rc);
    return {};
  }

  /// Statuses of many cards; numbers that are not 18 characters are InvalidNumber.
  Result<std::vector<CardStatus>> verify_batch(const std::vector<std::string> &numbers,
                                               const std::vector<std::uint32_t> &valid_from_yyyymmdd) const {
    if (numbers.size() != valid_from_yyyymmdd.size()) {
      return Error{IDC_ERR_INVALID_ARGUMENT, "numbers and dates differ in length"};
    }
    std::string packed(numbers.size() * 18, '\0');
    std::vector<bool> bad(numbers.size(), false);
    for (std::size_t i = 0; i < numbers.size(); ++i) {
      if (numbers[i].size() == 18) {
        numbers[i].copy(&packed[i * 18], 18);
      } else {
        bad[i] = true;
      }
    }
    std::vector<std::uint8_t> out(numbers.size(), 0);
    auto r = verify_batch(packed.data(), numbers.size(), valid_from_yyyymmdd.data(), out.data());
    if (!r) return r.error();
    std::vector<CardStatus> statuses(numbers.size());
    for (std::size_t i = 0; i < numbers.size(); ++i) {
      statuses[i] = bad[i] ? CardStatus::InvalidNumber : static_cast<CardStatus>(out[i]);
    }
    return statuses;
  }

  /// The blacklist reason bits of a person (0: not listed); police snapshots only.
  Result<std::uint32_t> blacklist_check(std::string_view number) const {
    std::uint32_t reasons = 0;
    int rc = idc_blacklist_check(v_, number.data(), number.size(), &reasons);
    if (rc != IDC_OK) return Error::last(rc);
    return reasons;
  }

  /// Apply a delta file (safe while other threads verify).
  Result<void> apply_delta(const std::string &path) const {
    int rc = idc_verifier_apply_delta(v_, path.c_str());
    if (rc != IDC_OK) return Error::last(rc);
    return {};
  }

  /// What apply_delta_dir did.
  struct DirReport {
    std::size_t applied = 0;
    std::size_t skipped = 0;
    /// Each skipped file with its reason, when any was skipped.
    std::string skipped_files;
  };

  /// Apply the timestamps and deltas of a publish folder that follow on from where the
  /// verifier is, in sequence order; files that fail are skipped and named.
  Result<DirReport> apply_delta_dir(const std::string &dir) const {
    DirReport r;
    int rc = idc_verifier_apply_delta_dir(v_, dir.c_str(), &r.applied, &r.skipped);
    if (rc != IDC_OK) return Error::last(rc);
    if (r.skipped > 0) r.skipped_files = idc_last_error_message();
    return r;
  }

  /// Take in a signed timestamp file (freshness; no delta may go past its sequence).
  Result<void> apply_timestamp(const std::string &path) const {
    int rc = idc_verifier_apply_timestamp(v_, path.c_str());
    if (rc != IDC_OK) return Error::last(rc);
    return {};
  }

  /// Swap in a newer snapshot file (safe while other threads verify).
  Result<void> swap_snapshot(const std::string &path) const {
    int rc = idc_verifier_swap_snapshot(v_, path.c_str());
    if (rc != IDC_OK) return Error::last(rc);
    return {};
  }

  /// What the verifier holds.
  Result<idc_verifier_info> info() const {
    idc_verifier_info i{};
    int rc = idc_verifier_info_get(v_, &i);
    if (rc != IDC_OK) return Error::last(rc);
    return i;
  }

  /// The underlying C handle (still owned by this object).
  const idc_verifier *handle() const { return v_; }

 private:
  explicit Verifier(idc_verifier *v) : v_(v) {}
  idc_verifier *v_ = nullptr;
};

/// Check an identity number (N1-N3); strict: the division must have been in force in the birth
/// year.
inline Result<idc_number_info> check_number(std::string_view number, bool strict = false) {
  idc_number_info info{};
  int rc = idc_number_check_ex(number.data(), number.size(), strict ? IDC_CHECK_STRICT : 0, &info);
  if (rc != IDC_OK) return Error::last(rc);
  return info;
}

/// The library version.
inline const char *version() { return idc_version(); }

}  // namespace idcard

#endif  // IDCARD_HPP
