/* Starting and stopping Kannel's libgw (gwlib/gwlib.h). libgw prints to stderr from DEBUG up
 * unless told otherwise: warnings and errors are what an operator needs from it (a config
 * syntax error names its file and line there). */
#include "core/gw.h"

#include <errno.h>

#include "gwlib/gwlib.h"

static int started;
static int log_index = -1;

void gw_start(void)
{
	if (started)
		return;
	gwlib_init();
	log_set_output_level(GW_WARNING);
	started = 1;
}

int gw_log_to(const char *path)
{
	if (!started)
		return -EINVAL;
	if (log_index >= 0) {
		log_close_all();
		log_set_output_level(GW_WARNING);
		log_index = -1;
	}
	if (path == NULL)
		return 0;
	log_index = log_open((char *)path, GW_WARNING, GW_NON_EXCL);
	return log_index < 0 ? -EIO : 0;
}

void gw_stop(void)
{
	if (!started)
		return;
	gwlib_shutdown();
	started = 0;
}
