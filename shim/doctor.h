/* runwarden doctor: the seed's verify-hardening.sh as one command. */
#ifndef RW_DOCTOR_H
#define RW_DOCTOR_H

#include "shim/error.h"

/* argv[0] is "doctor". Prints [OK]/[WARN]/[FAIL] lines (or --json) and
 * returns the exit status: 0, or 1 when any check FAILed. -1 with *err only
 * for a usage error. */
int rw_doctor_main(int argc, char **argv, rw_error_t *err);

#endif
