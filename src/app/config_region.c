/* The domain's answer to the one question the configuration cannot answer itself: which
 * regions default-region may name (core/config.h, config_region_known). core includes
 * nothing above itself; this file, in the layer that wires the two together, does. */
#include "core/config.h"

#include "domain/msisdn.h"

bool config_region_known(const char *region)
{
	return msisdn_region_known(region);
}
