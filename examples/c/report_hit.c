/*
 * report_hit: a bank's counter software reports the impostor it caught (L4). The C library signs
 * a `report_hit` command with the officer's key; any HTTP client sends it to the platform:
 *
 *   ./report_hit u1.key U1 BANK 110105198503120020 20150301 "presented by someone else" > hit.json
 *   curl -s -H 'content-type: application/json' --data-binary @hit.json https://platform/v1/commands
 *
 * The platform checks the signature, that the officer is registered and active at that unit and
 * that the signing time is within five minutes of its clock, then routes the hit to the police.
 */
#include <idcard.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s KEY_FILE OFFICER STATION NUMBER VALID_FROM_YYYYMMDD NOTE\n", argv[0]);
    return 2;
  }
  char json[4096];
  size_t len = 0;
  int rc = idc_hit_report_sign(argv[1], argv[2], argv[3], argv[4], strlen(argv[4]),
                               (uint32_t)strtoul(argv[5], NULL, 10), argv[6], json, sizeof json, &len);
  if (rc != IDC_OK) {
    fprintf(stderr, "cannot sign the report: %s (%s)\n", idc_last_error_message(), idc_result_name(rc));
    return 2;
  }
  fwrite(json, 1, len, stdout);
  putchar('\n');
  return 0;
}
