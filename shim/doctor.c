#include "config.h"

#include "shim/doctor.h"

int rw_doctor_main(int argc, char **argv, rw_error_t *err)
{
	(void)argc;
	(void)argv;
	return rw_error(err, 0, "doctor: not yet");
}
