// The national platform's view: C++ implements the population directory and the fingerprint
// matcher, and drives a loss report end to end through the cxx bridge (ffi/cxx). Built and run
// by tests/c/run.sh.
#include "idcard-cxx/include/platform.h"
#include "idcard-cxx/src/lib.rs.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

using namespace idcard::platform;

namespace {

int failures = 0;
#define CHECK(c)                                                            \
  do {                                                                      \
    if (!(c)) {                                                             \
      ++failures;                                                           \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
    }                                                                       \
  } while (0)

struct Entry {
  std::string name;
  std::uint32_t hukou;
  std::string fingerprint;  // empty: none registered
};

// The platform's directory: an in-memory table here; a national system in production.
class TableDirectory : public Directory {
 public:
  explicit TableDirectory(std::map<std::string, Entry> people) : people_(std::move(people)) {}
  bool find_person(rust::Str number, Person &out) const override {
    std::lock_guard<std::mutex> lock(mu_);
    lookups_++;
    auto it = people_.find(std::string(number));
    if (it == people_.end()) return false;
    out.number = rust::String(std::string(number));
    out.name = rust::String(it->second.name);
    out.hukou_division = it->second.hukou;
    out.category = 0;
    out.fingerprints_registered = !it->second.fingerprint.empty();
    out.contact = rust::String("");
    out.deceased = false;
    return true;
  }
  mutable int lookups_ = 0;
  std::map<std::string, Entry> people_;

 private:
  mutable std::mutex mu_;
};

class SampleMatcher : public Matcher {
 public:
  explicit SampleMatcher(const TableDirectory *dir) : dir_(dir) {}
  bool matches(rust::Str number, rust::Slice<const std::uint8_t> sample) const override {
    auto it = dir_->people_.find(std::string(number));
    if (it == dir_->people_.end()) return false;
    return std::string(reinterpret_cast<const char *>(sample.data()), sample.size()) == it->second.fingerprint;
  }

 private:
  const TableDirectory *dir_;
};

// The platform's PKI, for the test: each officer's "key" is a secret the PKI holds; a
// signature is a keyed digest of the message (a stand-in for the officers' certificate keys).
std::string digest(const std::string &secret, rust::Slice<const std::uint8_t> message) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : secret) h = (h ^ static_cast<std::uint8_t>(c)) * 1099511628211ull;
  for (std::uint8_t b : message) h = (h ^ b) * 1099511628211ull;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(h >> (8 * i));
  return out;
}

rust::Vec<std::uint8_t> vec(const std::string &s) {
  rust::Vec<std::uint8_t> v;
  for (char c : s) v.push_back(static_cast<std::uint8_t>(c));
  return v;
}

class Pki {
 public:
  std::string secret(rust::Str officer) const { return "secret of " + std::string(officer); }
};

class PkiSigner : public OfficerSigner {
 public:
  explicit PkiSigner(std::string forge_for = "") : forge_for_(std::move(forge_for)) {}
  rust::Vec<std::uint8_t> key_id(rust::Str officer) const override { return vec(std::string(officer).substr(0, 8)); }
  rust::Vec<std::uint8_t> sign(rust::Str officer, rust::Slice<const std::uint8_t> message) const override {
    // A forger without the officer's secret signs with a guess.
    std::string secret = std::string(officer) == forge_for_ ? "a guess" : pki_.secret(officer);
    return vec(digest(secret, message));
  }
  std::string forge_for_;

 private:
  Pki pki_;
};

class PkiAuthenticator : public Authenticator {
 public:
  bool verify(rust::Str officer, rust::Slice<const std::uint8_t>, rust::Slice<const std::uint8_t> message,
              rust::Slice<const std::uint8_t> signature) const override {
    std::string want = digest(pki_.secret(officer), message);
    return signature.size() == want.size() &&
           std::equal(signature.begin(), signature.end(), reinterpret_cast<const std::uint8_t *>(want.data()));
  }

 private:
  Pki pki_;
};

rust::Slice<const std::uint8_t> bytes(const std::string &s) {
  return rust::Slice<const std::uint8_t>(reinterpret_cast<const std::uint8_t *>(s.data()), s.size());
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const std::string data = argv[1];
  const std::string zhang = "11010519491231002X";
  auto dir = std::make_unique<TableDirectory>(std::map<std::string, Entry>{{zhang, {"Zhang", 110105, "zhang-right-index"}}});
  const TableDirectory *directory = dir.get();
  auto matcher = std::make_unique<SampleMatcher>(directory);
  rust::Box<PlatformEngine> engine =
      open_engine(data, std::unique_ptr<Directory>(std::move(dir)), std::unique_ptr<Matcher>(std::move(matcher)),
                  std::make_unique<PkiSigner>(), std::make_unique<PkiAuthenticator>());

  // The ministry (the national platform) registers Chaoyang's county bureau, which registers its
  // station; the ministry publishes.
  CHECK(engine->bootstrap("MPS", "ministry", 110000, "M1").ok);
  CHECK(engine->register_station("M1", "MPS", "PSB", "county_bureau", 110105, "bureau").ok);
  CHECK(engine->register_officer("M1", "MPS", "B1", "officer", "PSB").ok);
  // S1: a county bureau acts within its county only.
  Outcome outside = engine->register_station("B1", "PSB", "GZ", "household_registration_station", 440106, "elsewhere");
  CHECK(!outside.ok && std::string(outside.code) == "outside_jurisdiction");
  CHECK(engine->register_station("B1", "PSB", "HR", "household_registration_station", 110105, "station").ok);
  CHECK(engine->register_officer("B1", "PSB", "P1", "officer", "HR").ok);
  CHECK(engine->register_card("B1", "PSB", zhang, "2010-05-01", true).ok);

  // Refused: no fingerprint, then the wrong one (L2); someone else at the counter (A10).
  Outcome o = engine->report_loss("P1", "HR", zhang, "2010-05-01", false, zhang, bytes(""));
  CHECK(!o.ok && std::string(o.code) == "fingerprint_required");
  o = engine->report_loss("P1", "HR", zhang, "2010-05-01", false, zhang, bytes("someone-else"));
  CHECK(!o.ok && std::string(o.code) == "fingerprint_mismatch");
  o = engine->report_loss("P1", "HR", zhang, "2010-05-01", false, "440524188001010014", bytes(""));
  CHECK(!o.ok && std::string(o.code) == "not_the_holder");
  // Accepted: the platform's directory and matcher confirmed the holder.
  o = engine->report_loss("P1", "HR", zhang, "2010-05-01", false, zhang, bytes("zhang-right-index"));
  CHECK(o.ok && std::string(o.value) == "lost");
  CHECK(std::string(engine->card_status(zhang, "2010-05-01")) == "lost");
  CHECK(directory->lookups_ > 0);

  // S1: a command whose signature the platform's PKI does not accept is refused (and recorded
  // as an unauthenticated attempt).
  {
    std::string forged_dir = data + "/forged";
    auto d2 = std::make_unique<TableDirectory>(std::map<std::string, Entry>{{zhang, {"Zhang", 110105, "zhang-right-index"}}});
    const TableDirectory *dp = d2.get();
    rust::Box<PlatformEngine> forger =
        open_engine(forged_dir, std::unique_ptr<Directory>(std::move(d2)), std::make_unique<SampleMatcher>(dp),
                    std::make_unique<PkiSigner>("B1"), std::make_unique<PkiAuthenticator>());
    CHECK(forger->bootstrap("MPS", "ministry", 110000, "M1").ok);
    CHECK(forger->register_station("M1", "MPS", "PSB", "county_bureau", 110105, "bureau").ok);
    CHECK(forger->register_officer("M1", "MPS", "B1", "officer", "PSB").ok);
    Outcome f = forger->register_station("B1", "PSB", "HR", "household_registration_station", 110105, "station");
    CHECK(!f.ok && std::string(f.code) == "bad_signature");
  }

  // Published for the banks.
  Outcome p = engine->publish_snapshot("M1", "MPS", "bank", data + "/bank.idcs");
  CHECK(p.ok);
  o = engine->cancel_loss("P1", "HR", zhang, "2010-05-01", zhang, bytes("zhang-right-index"));
  CHECK(o.ok);
  Outcome d = engine->publish_delta("M1", "MPS", data + "/bank.idcs", data + "/bank-1.idcd");
  CHECK(d.ok);

  // System errors are exceptions.
  bool threw = false;
  try {
    engine->card_status("not-a-number", "2010-05-01");
  } catch (const rust::Error &e) {
    threw = std::string(e.what()).find("identity number") != std::string::npos;
  }
  CHECK(threw);

  std::printf("cxx bridge: loss report end to end through C++ directory and matcher; %d failed (journal at %llu)\n",
              failures, static_cast<unsigned long long>(engine->last_seq()));
  return failures == 0 ? 0 : 1;
}
