#include "config.h"

#include "shim/install.h"

int rw_install_main(int argc, char **argv, bool uninstall, rw_error_t *err)
{
	(void)argc;
	(void)argv;
	(void)uninstall;
	return rw_error(err, 0, "install: not yet");
}
