// The C++ header (idcard.hpp) against the installed library: RAII, results, every call.
// Built with -std=c++17 -Wall -Wextra -Werror (and once with -fno-exceptions) by tests/c/run.sh.
#include <idcard.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

static int failures = 0;
#define CHECK(c)                                                           \
  do {                                                                     \
    if (!(c)) {                                                            \
      ++failures;                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
    }                                                                      \
  } while (0)

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  const std::string trust = dir + "/platform.trust";
  auto opened = idcard::Verifier::open_trusted(dir + "/bank.idcs", trust);
  CHECK(opened.ok());
  idcard::Verifier v = std::move(opened.value());

  std::ifstream in(dir + "/cards.txt");
  std::vector<std::string> numbers;
  std::vector<std::uint32_t> dates;
  std::vector<int> expected;
  std::string n;
  std::uint32_t d = 0;
  int s = 0;
  while (in >> n >> d >> s) {
    numbers.push_back(n);
    dates.push_back(d);
    expected.push_back(s);
  }
  CHECK(numbers.size() == 60);
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    auto r = v.verify(numbers[i], dates[i]);
    CHECK(r.ok() && static_cast<int>(r.value()) == expected[i]);
  }
  auto batch = v.verify_batch(numbers, dates);
  CHECK(batch.ok());
  for (std::size_t i = 0; i < numbers.size(); ++i) CHECK(static_cast<int>(batch.value()[i]) == expected[i]);
  CHECK(std::strcmp(idcard::status_name(batch.value()[0]), "lost") == 0);

  auto bad = idcard::Verifier::open_trusted(dir + "/nope.idcs", trust);
  CHECK(!bad.ok() && bad.error().code == IDC_ERR_IO);
  CHECK(bad.error().message.find("nope.idcs") != std::string::npos);
  CHECK(std::strcmp(bad.error().name(), "IDC_ERR_IO") == 0);

  auto bl = v.blacklist_check(numbers[0]);
  CHECK(!bl.ok() && bl.error().code == IDC_ERR_NO_BLACKLIST);
  CHECK(v.apply_delta(dir + "/bank-d01.idcd").ok());
  auto again = v.apply_delta(dir + "/bank-d01.idcd");
  CHECK(!again.ok() && again.error().code == IDC_ERR_OUT_OF_ORDER);
  auto info = v.info();
  CHECK(info.ok() && info.value().deltas_applied == 1 && info.value().journal_seq == 101);
  auto folder = v.apply_delta_dir(dir + "/deltas");  // d02..d10 follow on; d01 is covered
  CHECK(folder.ok() && folder.value().applied == 9 && folder.value().skipped == 0);
  auto unsigned_snapshot = idcard::Verifier::open_trusted(dir + "/unsigned-bank.idcs", trust);
  CHECK(!unsigned_snapshot.ok() && unsigned_snapshot.error().code == IDC_ERR_UNSIGNED);
  auto forged = v.apply_delta(dir + "/forged-d01.idcd");
  CHECK(!forged.ok() && forged.error().code == IDC_ERR_UNSIGNED);
  auto none = v.apply_delta_dir(dir + "/no-such-folder");
  CHECK(!none.ok() && none.error().code == IDC_ERR_IO);

  auto num = idcard::check_number("110105491231002");
  CHECK(num.ok() && num.value().upgraded_from_15 == 1 && std::strcmp(num.value().number, "11010519491231002X") == 0);
  CHECK(!idcard::check_number("110105194912310021").ok());

  // Moves keep one owner; the moved-from verifier is empty and harmless.
  idcard::Verifier w = std::move(v);
  CHECK(w.handle() != nullptr && v.handle() == nullptr);
  CHECK(std::strlen(idcard::version()) > 0);

  std::printf("C++ header: %d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
