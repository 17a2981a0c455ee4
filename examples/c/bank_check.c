/*
 * bank_check: what a bank developer reads first. Opens a snapshot the platform signed (the
 * trust file pins the platform's root key), verifies one card, prints the answer.
 *
 *   ./ffi/install.sh --prefix /opt/idcard
 *   cc examples/c/bank_check.c $(PKG_CONFIG_PATH=/opt/idcard/lib/pkgconfig pkg-config --cflags --libs idcard) -o bank_check
 *   ./bank_check platform.trust bank.idcs 11010519491231002X 20050601
 *   ./bank_check platform.trust bank/snapshot.idcs 11010519491231002X 20050601 bank
 *
 * The optional fifth argument is a folder of signed deltas and timestamps (what `idcard
 * subscribe` keeps current): applied in order before the card is checked.
 */
#include <idcard.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: %s TRUST_FILE SNAPSHOT NUMBER VALID_FROM_YYYYMMDD [DELTA_DIR]\n", argv[0]);
    return 2;
  }
  /* Open once at start-up; share the verifier between all counter threads. An unsigned, forged
   * or untrusted file is refused here; data older than a day answers IDC_CARD_STALE. */
  idc_verifier *verifier = NULL;
  int rc = idc_verifier_open_trusted(argv[2], argv[1], &verifier);
  if (rc != IDC_OK) {
    fprintf(stderr, "cannot open %s: %s (%s)\n", argv[2], idc_last_error_message(), idc_result_name(rc));
    return 2;
  }

  if (argc == 6) {
    /* A bad file is skipped (and named in idc_last_error_message); the good ones still apply. */
    size_t applied = 0, skipped = 0;
    rc = idc_verifier_apply_delta_dir(verifier, argv[5], &applied, &skipped);
    if (rc != IDC_OK) {
      fprintf(stderr, "cannot read %s: %s\n", argv[5], idc_last_error_message());
      idc_verifier_free(verifier);
      return 2;
    }
    if (skipped > 0) {
      fprintf(stderr, "skipped %zu files: %s\n", skipped, idc_last_error_message());
    }
  }

  uint8_t status = 0;
  rc = idc_verify(verifier, argv[3], strlen(argv[3]), (uint32_t)strtoul(argv[4], NULL, 10), &status);
  if (rc != IDC_OK) {
    fprintf(stderr, "verify failed: %s\n", idc_last_error_message());
    idc_verifier_free(verifier);
    return 2;
  }
  switch (status) {
    case IDC_CARD_VALID: printf("valid: the card may be accepted\n"); break;
    case IDC_CARD_LOST: printf("LOST: refuse the card and report it (L4)\n"); break;
    case IDC_CARD_STOLEN: printf("STOLEN: refuse the card and report it (L4)\n"); break;
    case IDC_CARD_SUPERSEDED: printf("superseded: a newer card was issued; refuse this one\n"); break;
    case IDC_CARD_INVALIDATED: printf("invalidated: refuse the card\n"); break;
    case IDC_CARD_STALE: printf("stale data: update the snapshot before relying on it\n"); break;
    default: printf("invalid number or date\n"); break;
  }
  idc_verifier_free(verifier);
  return status == IDC_CARD_VALID ? 0 : 1;
}
