/*
 * The C interface, every function and every error path, against the installed library.
 * Built with -Wall -Wextra -Werror, run under ASan/UBSan and under valgrind by tests/c/run.sh.
 *
 * usage: test_idcard DATA_DIR   (DATA_DIR from `cargo run -p idcard-ffi --example make_test_data`)
 */
#include <idcard.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int failures = 0;
static int checks = 0;
static char dir[4096];

#define CHECK(cond)                                                                   \
  do {                                                                                \
    checks++;                                                                         \
    if (!(cond)) {                                                                    \
      failures++;                                                                     \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__, \
              #cond, idc_last_error_message());                                       \
    }                                                                                 \
  } while (0)

#define CHECK_RC(call, want)                                                                 \
  do {                                                                                       \
    int rc_ = (call);                                                                        \
    checks++;                                                                                \
    if (rc_ != (want)) {                                                                     \
      failures++;                                                                            \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", __FILE__,    \
              __LINE__, #call, idc_result_name(rc_), idc_result_name(want),                  \
              idc_last_error_message());                                                     \
    }                                                                                        \
  } while (0)

static const char *path(const char *name) {
  static _Thread_local char buf[8192];
  snprintf(buf, sizeof buf, "%s/%s", dir, name);
  return buf;
}

static char *read_file(const char *p, size_t *len) {
  FILE *f = fopen(p, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  size_t got = fread(b, 1, (size_t)n, f);
  fclose(f);
  b[got] = 0;
  *len = got;
  return b;
}

static void write_file(const char *p, const char *data, size_t len) {
  FILE *f = fopen(p, "wb");
  fwrite(data, 1, len, f);
  fclose(f);
}

/* A bank's open: the snapshot signed by a key the test platform's trust file pins. */
static int open_bank(const char *name, idc_verifier **v) {
  char snapshot[8192];
  snprintf(snapshot, sizeof snapshot, "%s", path(name));
  return idc_verifier_open_trusted(snapshot, path("platform.trust"), v);
}

/* ---- numbers ---- */

static void test_numbers(void) {
  idc_number_info info;
  memset(&info, 0, sizeof info);
  const char *n = "11010519491231002X";
  CHECK_RC(idc_number_check(n, strlen(n), &info), IDC_OK);
  CHECK(strcmp(info.number, "11010519491231002X") == 0);
  CHECK(info.division_code == 110105);
  CHECK(info.birth_date_yyyymmdd == 19491231);
  CHECK(info.sex == IDC_SEX_FEMALE);
  CHECK(info.upgraded_from_15 == 0);

  const char *legacy = " 110105491231002 ";
  CHECK_RC(idc_number_check(legacy, strlen(legacy), &info), IDC_OK);
  CHECK(info.upgraded_from_15 == 1 && strcmp(info.number, "11010519491231002X") == 0);

  const char *lower = "11010519491231002x";
  CHECK_RC(idc_number_check(lower, strlen(lower), &info), IDC_OK);
  /* Full-width digits and X, UTF-8. */
  const char *wide = "\xef\xbc\x91\xef\xbc\x91\xef\xbc\x90\xef\xbc\x91\xef\xbc\x90\xef\xbc\x95"
                     "\xef\xbc\x91\xef\xbc\x99\xef\xbc\x94\xef\xbc\x99\xef\xbc\x91\xef\xbc\x92"
                     "\xef\xbc\x93\xef\xbc\x91\xef\xbc\x90\xef\xbc\x90\xef\xbc\x92\xef\xbc\xb8";
  CHECK_RC(idc_number_check(wide, strlen(wide), &info), IDC_OK);
  CHECK(strcmp(info.number, "11010519491231002X") == 0);

  /* Errors leave *out unchanged and say why. */
  idc_number_info before = info;
  const char *bad = "110105194912310021";
  CHECK_RC(idc_number_check(bad, strlen(bad), &info), IDC_ERR_INVALID_NUMBER);
  CHECK(strstr(idc_last_error_message(), "check character") != NULL);
  CHECK(memcmp(&before, &info, sizeof info) == 0);
  const char bad_utf8[] = "\xff\xfe" "0105194912310021";
  CHECK_RC(idc_number_check(bad_utf8, 18, &info), IDC_ERR_INVALID_NUMBER);
  CHECK(strstr(idc_last_error_message(), "UTF-8") != NULL);
  CHECK_RC(idc_number_check(n, 5, &info), IDC_ERR_INVALID_NUMBER); /* short length */
  CHECK_RC(idc_number_check(n, 0, &info), IDC_ERR_INVALID_NUMBER);
  CHECK_RC(idc_number_check(NULL, 18, &info), IDC_ERR_NULL_ARGUMENT);
  CHECK_RC(idc_number_check(n, 18, NULL), IDC_ERR_NULL_ARGUMENT);
  /* Strict mode: 110118 (Miyun district) exists from 2015 only. */
  const char *miyun = "110118199001010012";
  CHECK_RC(idc_number_check_ex(miyun, 18, 0, &info), IDC_OK);
  CHECK_RC(idc_number_check_ex(miyun, 18, IDC_CHECK_STRICT, &info), IDC_ERR_INVALID_NUMBER);
}

/* ---- opening ---- */

static void test_open_errors(void) {
  idc_verifier *v = NULL;
  CHECK_RC(idc_verifier_open_trusted(NULL, path("platform.trust"), &v), IDC_ERR_NULL_ARGUMENT);
  CHECK_RC(open_bank("bank.idcs", NULL), IDC_ERR_NULL_ARGUMENT);
  CHECK_RC(idc_verifier_open_trusted(path("bank.idcs"), NULL, &v), IDC_ERR_NULL_ARGUMENT);
  CHECK_RC(open_bank("does-not-exist.idcs", &v), IDC_ERR_IO);
  CHECK(strstr(idc_last_error_message(), "does-not-exist.idcs") != NULL);
  CHECK(v == NULL);
  CHECK_RC(open_bank("cards.txt", &v), IDC_ERR_NOT_A_SNAPSHOT);

  size_t len = 0;
  char *bytes = read_file(path("bank.idcs"), &len);
  CHECK(bytes != NULL && len > 300);
  /* A flipped byte in the card table: the content no longer matches its signature. */
  bytes[300] ^= 0x20;
  write_file(path("corrupt.idcs"), bytes, len);
  CHECK_RC(open_bank("corrupt.idcs", &v), IDC_ERR_BAD_SIGNATURE);
  CHECK(strstr(idc_last_error_message(), "corrupt.idcs") != NULL);
  bytes[300] ^= 0x20;
  /* Truncated: the signature block is gone. */
  write_file(path("short.idcs"), bytes, len / 2);
  CHECK_RC(open_bank("short.idcs", &v), IDC_ERR_UNSIGNED);
  /* A newer format version. */
  bytes[8] = 9;
  write_file(path("future.idcs"), bytes, len);
  CHECK_RC(open_bank("future.idcs", &v), IDC_ERR_UNSUPPORTED_VERSION);
  free(bytes);
  CHECK(v == NULL);
  idc_verifier_free(NULL); /* ignored */
}

/* ---- verification ---- */

typedef struct {
  char number[19];
  uint32_t date;
  unsigned expected;
} card;

static card cards[64];
static size_t ncards = 0;
static card chain[20];
static size_t nchain = 0;

static size_t load(const char *name, card *out, size_t max, int with_status) {
  size_t len = 0, n = 0;
  char *text = read_file(path(name), &len);
  if (!text) return 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
    unsigned date = 0, st = 0;
    char num[32];
    int got = sscanf(line, "%31s %u %u", num, &date, &st);
    if (got < 2) continue;
    memcpy(out[n].number, num, 18);
    out[n].number[18] = 0;
    out[n].date = date;
    out[n].expected = with_status ? st : 0;
    n++;
  }
  free(text);
  return n;
}

static void test_verify(void) {
  idc_verifier *v = NULL;
  CHECK_RC(open_bank("bank.idcs", &v), IDC_OK);
  CHECK(v != NULL);
  ncards = load("cards.txt", cards, 64, 1);
  CHECK(ncards == 60);
  for (size_t i = 0; i < ncards; i++) {
    uint8_t s = 99;
    CHECK_RC(idc_verify(v, cards[i].number, 18, cards[i].date, &s), IDC_OK);
    CHECK(s == cards[i].expected);
  }
  /* The batch agrees with one-at-a-time. */
  char packed[64 * 18];
  uint32_t dates[64];
  uint8_t out[64];
  for (size_t i = 0; i < ncards; i++) {
    memcpy(packed + i * 18, cards[i].number, 18);
    dates[i] = cards[i].date;
  }
  memset(out, 0xee, sizeof out);
  CHECK_RC(idc_verify_batch(v, packed, ncards, dates, out), IDC_OK);
  for (size_t i = 0; i < ncards; i++) CHECK(out[i] == cards[i].expected);
  CHECK_RC(idc_verify_batch(v, NULL, 0, NULL, NULL), IDC_OK); /* n = 0 */
  CHECK_RC(idc_verify_batch(v, NULL, 3, dates, out), IDC_ERR_NULL_ARGUMENT);
  CHECK_RC(idc_verify_batch(NULL, packed, 3, dates, out), IDC_ERR_NULL_ARGUMENT);

  /* Invalid numbers and dates are a status, not an error. */
  uint8_t s = 0;
  CHECK_RC(idc_verify(v, "110105194912310021", 18, 20050601, &s), IDC_OK);
  CHECK(s == IDC_CARD_INVALID_NUMBER);
  CHECK_RC(idc_verify(v, cards[0].number, 10, cards[0].date, &s), IDC_OK); /* short length */
  CHECK(s == IDC_CARD_INVALID_NUMBER);
  CHECK_RC(idc_verify(v, cards[0].number, 18, 20100231, &s), IDC_OK); /* no such date */
  CHECK(s == IDC_CARD_INVALID_NUMBER);
  CHECK_RC(idc_verify(v, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 18, 20100101, &s), IDC_OK);
  CHECK(s == IDC_CARD_INVALID_NUMBER);
  /* A card past its validity end: a 20-year-old's card from 2010 ran ten years (N5). */
  CHECK_RC(idc_verify(v, "110105199001010010", 18, 20100101, &s), IDC_OK);
  CHECK(s == IDC_CARD_EXPIRED);
  /* A foreign permanent resident's number: no resident identity card has it. */
  CHECK_RC(idc_verify(v, "932682198501010017", 18, 20240101, &s), IDC_OK);
  CHECK(s == IDC_CARD_INVALID_NUMBER);
  /* Lower case and blanks are normalised. */
  char spaced[32];
  snprintf(spaced, sizeof spaced, "  %s ", cards[0].number);
  CHECK_RC(idc_verify(v, spaced, strlen(spaced), cards[0].date, &s), IDC_OK);
  CHECK(s == cards[0].expected);
  CHECK_RC(idc_verify(NULL, cards[0].number, 18, cards[0].date, &s), IDC_ERR_NULL_ARGUMENT);
  CHECK_RC(idc_verify(v, NULL, 18, cards[0].date, &s), IDC_ERR_NULL_ARGUMENT);
  CHECK_RC(idc_verify(v, cards[0].number, 18, cards[0].date, NULL), IDC_ERR_NULL_ARGUMENT);

  /* Bank snapshots carry no blacklist. */
  uint32_t reasons = 7;
  CHECK_RC(idc_blacklist_check(v, cards[0].number, 18, &reasons), IDC_ERR_NO_BLACKLIST);
  CHECK(reasons == 7);

  idc_verifier_info info;
  memset(&info, 0, sizeof info);
  CHECK_RC(idc_verifier_info_get(v, &info), IDC_OK);
  CHECK(info.profile == IDC_PROFILE_BANK && info.journal_seq == 100 && info.card_count == 20);
  CHECK(info.stale == 0 && info.as_of_unix > 1760000000);
  CHECK_RC(idc_verifier_info_get(v, NULL), IDC_ERR_NULL_ARGUMENT);
  idc_verifier_free(v);
}

static void test_blacklist(void) {
  idc_verifier *v = NULL;
  CHECK_RC(open_bank("police.idcs", &v), IDC_OK);
  card listed[8];
  size_t n = load("blacklist.txt", listed, 8, 0);
  CHECK(n == 5);
  size_t len = 0;
  char *text = read_file(path("blacklist.txt"), &len);
  unsigned bits = 0;
  char num[32];
  CHECK(text && sscanf(text, "%31s %u", num, &bits) == 2);
  free(text);
  uint32_t reasons = 0;
  CHECK_RC(idc_blacklist_check(v, num, 18, &reasons), IDC_OK);
  CHECK(reasons == bits && reasons != 0);
  CHECK_RC(idc_blacklist_check(v, cards[0].number, 18, &reasons), IDC_OK);
  CHECK(reasons == 0);
  CHECK_RC(idc_blacklist_check(v, "110105194912310021", 18, &reasons), IDC_ERR_INVALID_NUMBER);
  CHECK_RC(idc_blacklist_check(v, num, 18, NULL), IDC_ERR_NULL_ARGUMENT);
  idc_verifier_free(v);
}

static void test_deltas_and_swaps(void) {
  idc_verifier *v = NULL;
  CHECK_RC(open_bank("bank.idcs", &v), IDC_OK);
  nchain = load("chain.txt", chain, 20, 0);
  CHECK(nchain == 20);
  /* Out of order: d02 before d01, and a police delta: refused, nothing changes. */
  CHECK_RC(idc_verifier_apply_delta(v, path("bank-d02.idcd")), IDC_ERR_OUT_OF_ORDER);
  CHECK_RC(idc_verifier_apply_delta(v, path("police-d01.idcd")), IDC_ERR_OUT_OF_ORDER);
  uint8_t s = 0;
  CHECK_RC(idc_verify(v, chain[0].number, 18, chain[0].date, &s), IDC_OK);
  CHECK(s == IDC_CARD_VALID);
  CHECK_RC(idc_verifier_apply_delta(v, path("bank-d01.idcd")), IDC_OK);
  CHECK_RC(idc_verify(v, chain[0].number, 18, chain[0].date, &s), IDC_OK);
  CHECK(s == IDC_CARD_LOST);
  CHECK_RC(idc_verifier_apply_delta(v, path("bank-d01.idcd")), IDC_ERR_OUT_OF_ORDER); /* again */
  CHECK_RC(idc_verifier_apply_delta(v, path("missing.idcd")), IDC_ERR_IO);
  CHECK_RC(idc_verifier_apply_delta(v, NULL), IDC_ERR_NULL_ARGUMENT);
  CHECK_RC(idc_verifier_apply_delta(NULL, path("bank-d02.idcd")), IDC_ERR_NULL_ARGUMENT);
  size_t len = 0;
  char *bytes = read_file(path("bank-d02.idcd"), &len);
  bytes[70] ^= 1; /* in the first record */
  write_file(path("corrupt.idcd"), bytes, len);
  free(bytes);
  CHECK_RC(idc_verifier_apply_delta(v, path("corrupt.idcd")), IDC_ERR_BAD_SIGNATURE);
  CHECK(strstr(idc_last_error_message(), "corrupt.idcd") != NULL);
  CHECK_RC(idc_verifier_apply_delta(v, path("bank-d02.idcd")), IDC_OK);
  /* Swap to a newer snapshot; an older one is refused. */
  CHECK_RC(idc_verifier_swap_snapshot(v, path("bank-newer.idcs")), IDC_OK);
  CHECK_RC(idc_verify(v, chain[19].number, 18, chain[19].date, &s), IDC_OK);
  CHECK(s == IDC_CARD_LOST);
  CHECK_RC(idc_verifier_swap_snapshot(v, path("bank.idcs")), IDC_ERR_OUT_OF_ORDER);
  CHECK_RC(idc_verifier_swap_snapshot(v, path("corrupt.idcs")), IDC_ERR_BAD_SIGNATURE);
  CHECK_RC(idc_verifier_swap_snapshot(v, path("unsigned-bank.idcs")), IDC_ERR_UNSIGNED);
  CHECK_RC(idc_verifier_swap_snapshot(v, NULL), IDC_ERR_NULL_ARGUMENT);
  idc_verifier_free(v);
}

static void test_stale(void) {
  /* Two days old, the default maximum age of a day. */
  idc_verifier *v = NULL;
  CHECK_RC(open_bank("old-bank.idcs", &v), IDC_OK);
  uint8_t s = 0;
  CHECK_RC(idc_verify(v, cards[30].number, 18, cards[30].date, &s), IDC_OK);
  CHECK(s == IDC_CARD_STALE);
  CHECK_RC(idc_verify(v, cards[0].number, 18, cards[0].date, &s), IDC_OK);
  CHECK(s == cards[0].expected); /* listed cards keep their status */
  idc_verifier_info info;
  CHECK_RC(idc_verifier_info_get(v, &info), IDC_OK);
  CHECK(info.stale == 1);
  idc_verifier_free(v);
  /* A maximum age of "never" is explicit (negative). */
  v = NULL;
  char trust[8192];
  snprintf(trust, sizeof trust, "%s", path("platform.trust"));
  idc_verifier_options o;
  memset(&o, 0, sizeof o);
  o.trust_file = trust;
  o.max_age_seconds = -1;
  CHECK_RC(idc_verifier_open_with(path("old-bank.idcs"), &o, &v), IDC_OK);
  CHECK_RC(idc_verify(v, cards[30].number, 18, cards[30].date, &s), IDC_OK);
  CHECK(s == IDC_CARD_VALID);
  idc_verifier_free(v);
}

static void test_panic_boundary(void) {
  CHECK_RC(idc_debug_panic(), IDC_ERR_PANIC);
  CHECK(strstr(idc_last_error_message(), "panic") != NULL);
  /* The process lives on and the library still works. */
  idc_number_info info;
  CHECK_RC(idc_number_check("11010519491231002X", 18, &info), IDC_OK);
  CHECK(strcmp(idc_result_name(IDC_ERR_PANIC), "IDC_ERR_PANIC") == 0);
  CHECK(strcmp(idc_result_name(12345), "IDC_UNKNOWN") == 0);
  CHECK(strlen(idc_version()) > 0);
}

/* ---- threads: readers verify while a writer applies deltas ---- */

static idc_verifier *shared = NULL;
static atomic_int done = 0;

static void *reader(void *arg) {
  (void)arg;
  int seen[20] = {0};
  long rounds = 0;
  while (!atomic_load(&done) || rounds < 3) {
    /* Descending order: a card read later was listed no later than one read earlier, so the
     * lost cards always form a prefix of the chain; once lost, a card stays lost. */
    uint8_t st[20];
    for (int i = 19; i >= 0; i--) {
      if (idc_verify(shared, chain[i].number, 18, chain[i].date, &st[i]) != IDC_OK) {
        fprintf(stderr, "reader: verify failed: %s\n", idc_last_error_message());
        return (void *)1;
      }
    }
    int prefix = 0;
    while (prefix < 20 && st[prefix] == IDC_CARD_LOST) prefix++;
    for (int i = 0; i < 20; i++) {
      if (i >= prefix && st[i] != IDC_CARD_VALID) return (void *)2;
      if (seen[i] && st[i] != IDC_CARD_LOST) return (void *)3;
      if (st[i] == IDC_CARD_LOST) seen[i] = 1;
    }
    rounds++;
    sched_yield(); /* let the writer run (valgrind runs one thread at a time) */
  }
  return NULL;
}

static void test_threads(void) {
  CHECK_RC(open_bank("bank.idcs", &shared), IDC_OK);
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, reader, NULL);
  for (int i = 1; i <= 20; i++) {
    char name[64];
    snprintf(name, sizeof name, "bank-d%02d.idcd", i);
    CHECK_RC(idc_verifier_apply_delta(shared, path(name)), IDC_OK);
    uint8_t s = 0;
    CHECK_RC(idc_verify(shared, chain[i - 1].number, 18, chain[i - 1].date, &s), IDC_OK);
    CHECK(s == IDC_CARD_LOST); /* visible to every later read */
  }
  atomic_store(&done, 1);
  for (int i = 0; i < 4; i++) {
    void *r = NULL;
    pthread_join(t[i], &r);
    CHECK(r == NULL);
  }
  idc_verifier_free(shared);
}

/* A publish folder: the deltas that follow, by sequence, not by name; another snapshot's
   delta skipped. */
static void test_delta_dir(void) {
  idc_verifier *v = NULL;
  size_t n = 99, skipped = 99;
  uint8_t s = 0;
  CHECK_RC(open_bank("bank.idcs", &v), IDC_OK);
  CHECK_RC(idc_verifier_apply_delta_dir(v, path("deltas"), &n, &skipped), IDC_OK);
  CHECK(n == 10 && skipped == 0);
  CHECK_RC(idc_verify(v, chain[9].number, 18, chain[9].date, &s), IDC_OK);
  CHECK(s == IDC_CARD_LOST);
  CHECK_RC(idc_verify(v, chain[10].number, 18, chain[10].date, &s), IDC_OK);
  CHECK(s == IDC_CARD_VALID);
  CHECK_RC(idc_verifier_apply_delta_dir(v, path("deltas"), &n, NULL), IDC_OK); /* nothing new */
  CHECK(n == 0);
  CHECK_RC(idc_verifier_apply_delta(v, path("bank-d11.idcd")), IDC_OK); /* and on from there */
  n = 99;
  CHECK_RC(idc_verifier_apply_delta_dir(v, path("no-such-folder"), &n, NULL), IDC_ERR_IO);
  CHECK(n == 99); /* out-parameter untouched on failure */
  CHECK(strstr(idc_last_error_message(), "no-such-folder") != NULL);
  CHECK_RC(idc_verifier_apply_delta_dir(v, NULL, &n, NULL), IDC_ERR_NULL_ARGUMENT);
  CHECK_RC(idc_verifier_apply_delta_dir(v, path("deltas"), NULL, NULL), IDC_ERR_NULL_ARGUMENT);
  CHECK_RC(idc_verifier_apply_delta_dir(NULL, path("deltas"), &n, NULL), IDC_ERR_NULL_ARGUMENT);
  idc_verifier_free(v);
}

/* ---- hit reports (L4): signed here, sent to the platform by the bank's own HTTP client ---- */

static void test_hit_report(void) {
  char json[4096];
  size_t len = 0;
  const char *n = chain[0].number;
  CHECK_RC(idc_hit_report_sign(path("officer.key"), "U1", "BANK", n, 18, chain[0].date,
                               "presented by someone else", json, sizeof json, &len), IDC_OK);
  CHECK(len == strlen(json));
  CHECK(strstr(json, "\"command\":\"report_hit\"") != NULL);
  CHECK(strstr(json, "\"officer\":\"U1\"") != NULL);
  CHECK(strstr(json, "\"signature\":\"") != NULL);
  CHECK(strstr(json, n) != NULL);
  /* Too small a buffer: nothing written, the size needed in the message. */
  char small[16] = "untouched";
  size_t len2 = 7;
  CHECK_RC(idc_hit_report_sign(path("officer.key"), "U1", "BANK", n, 18, chain[0].date, "x", small,
                               sizeof small, &len2), IDC_ERR_BUFFER_TOO_SMALL);
  CHECK(len2 == 7 && strcmp(small, "untouched") == 0);
  CHECK(strstr(idc_last_error_message(), "bytes") != NULL);
  CHECK_RC(idc_hit_report_sign(path("officer.key"), "U1", "BANK", "110105194912310021", 18,
                               20050601, "x", json, sizeof json, &len), IDC_ERR_INVALID_NUMBER);
  CHECK_RC(idc_hit_report_sign(path("officer.key"), "U1", "BANK", n, 18, 20051341, "x", json,
                               sizeof json, &len), IDC_ERR_INVALID_ARGUMENT);
  CHECK_RC(idc_hit_report_sign(path("no-such.key"), "U1", "BANK", n, 18, chain[0].date, "x", json,
                               sizeof json, &len), IDC_ERR_TRUST_FILE);
  CHECK_RC(idc_hit_report_sign(NULL, "U1", "BANK", n, 18, chain[0].date, "x", json, sizeof json,
                               &len), IDC_ERR_NULL_ARGUMENT);
  CHECK_RC(idc_hit_report_sign(path("officer.key"), "U1", "BANK", n, 18, chain[0].date, "x", NULL,
                               0, &len), IDC_ERR_NULL_ARGUMENT);
}

/* ---- trust: what a bank's verifier refuses ---- */

static void test_trust(void) {
  idc_verifier *v = NULL;
  /* Without a trust file nothing opens (fail closed), with a message saying what to do. */
  CHECK_RC(idc_verifier_open(path("bank.idcs"), &v), IDC_ERR_TRUST_REQUIRED);
  CHECK(strstr(idc_last_error_message(), "trust file") != NULL);
  CHECK_RC(idc_verifier_open_trusted(path("bank.idcs"), path("missing.trust"), &v),
           IDC_ERR_TRUST_FILE);
  /* Unsigned: refused with a trust file; opened only when explicitly allowed, and says so. */
  CHECK_RC(open_bank("unsigned-bank.idcs", &v), IDC_ERR_UNSIGNED);
  idc_verifier_options o;
  memset(&o, 0, sizeof o);
  o.allow_unsigned = 1;
  CHECK_RC(idc_verifier_open_with(path("unsigned-bank.idcs"), &o, &v), IDC_OK);
  idc_verifier_info info;
  CHECK_RC(idc_verifier_info_get(v, &info), IDC_OK);
  CHECK(info.signature == IDC_SIGNATURE_UNSIGNED);
  idc_verifier_free(v);
  v = NULL;
  /* A forged delta (unsigned, valid checksums) and one signed by an unknown key: refused. */
  CHECK_RC(open_bank("bank.idcs", &v), IDC_OK);
  CHECK_RC(idc_verifier_info_get(v, &info), IDC_OK);
  CHECK(info.signature == IDC_SIGNATURE_VERIFIED && info.max_age_seconds == 86400);
  CHECK_RC(idc_verifier_apply_delta(v, path("forged-d01.idcd")), IDC_ERR_UNSIGNED);
  CHECK_RC(idc_verifier_apply_delta(v, path("evil-d01.idcd")), IDC_ERR_UNTRUSTED_KEY);
  CHECK_RC(idc_verifier_info_get(v, &info), IDC_OK);
  CHECK(info.journal_seq == 100 && info.deltas_applied == 0);
  /* The signed one applies; a timestamp vouches for the chain up to 120. */
  CHECK_RC(idc_verifier_apply_delta(v, path("bank-d01.idcd")), IDC_OK);
  CHECK_RC(idc_verifier_apply_timestamp(v, path("timestamp.idct")), IDC_OK);
  CHECK_RC(idc_verifier_info_get(v, &info), IDC_OK);
  CHECK(info.deltas_verified == 1 && info.timestamp_seq == 120);
  CHECK_RC(idc_verifier_apply_timestamp(v, path("bank-d02.idcd")), IDC_ERR_NOT_A_SNAPSHOT);
  idc_verifier_free(v);
  /* The snapshot file truncated and rewritten after opening: nothing changes, nothing crashes. */
  size_t len = 0;
  char *bytes = read_file(path("bank.idcs"), &len);
  write_file(path("mine.idcs"), bytes, len);
  v = NULL;
  CHECK_RC(open_bank("mine.idcs", &v), IDC_OK);
  write_file(path("mine.idcs"), "", 0);
  uint8_t s = 99;
  CHECK_RC(idc_verify(v, cards[0].number, 18, cards[0].date, &s), IDC_OK);
  CHECK(s == cards[0].expected);
  memset(bytes, 0, len);
  write_file(path("mine.idcs"), bytes, len);
  CHECK_RC(idc_verify(v, cards[0].number, 18, cards[0].date, &s), IDC_OK);
  CHECK(s == cards[0].expected);
  free(bytes);
  idc_verifier_free(v);
  /* A folder with a forged delta: skipped and named, nothing applied. */
  v = NULL;
  CHECK_RC(open_bank("bank.idcs", &v), IDC_OK);
  char attack[8192];
  snprintf(attack, sizeof attack, "%s", path("attack"));
  mkdir(attack, 0700);
  bytes = read_file(path("forged-d01.idcd"), &len);
  write_file(path("attack/forged-d01.idcd"), bytes, len);
  free(bytes);
  size_t applied = 99, skipped = 99;
  CHECK_RC(idc_verifier_apply_delta_dir(v, attack, &applied, &skipped), IDC_OK);
  CHECK(applied == 0 && skipped == 1);
  CHECK(strstr(idc_last_error_message(), "forged-d01.idcd") != NULL);
  CHECK(strstr(idc_last_error_message(), "not signed") != NULL);
  idc_verifier_free(v);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
    return 2;
  }
  snprintf(dir, sizeof dir, "%s", argv[1]);
  test_numbers();
  test_open_errors();
  test_verify();
  test_blacklist();
  test_deltas_and_swaps();
  test_delta_dir();
  test_trust();
  test_hit_report();
  test_stale();
  test_panic_boundary();
  test_threads();
  printf("C interface: %d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
