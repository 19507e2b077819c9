/* runwarden install --docker / uninstall --docker: daemon.json edited
 * atomically, every other key kept byte for byte, a backup kept. */
#ifndef RW_INSTALL_H
#define RW_INSTALL_H

#include <stdbool.h>
#include "shim/error.h"

/* argv[0] is "install" or "uninstall". Returns the exit status (0), or -1
 * with *err. */
int rw_install_main(int argc, char **argv, bool uninstall, rw_error_t *err);

#endif
