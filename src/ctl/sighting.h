/* ceirgwctl import pairings' sightings (issue 22): what the import needs to record them, from
 * the configuration: the stream, the SMS path's outbox, the owner's SMS in every language of
 * the templates (notify.sighting, with the phone's maker and model from the TAC table). */
#ifndef CEIRGW_CTL_SIGHTING_H
#define CEIRGW_CTL_SIGHTING_H

#include <stddef.h>

struct bulk;
struct ceirgw_config;
struct sight;

/* Loads the templates and the TAC table (cfg's, or the defaults; cfg may be NULL) and reads
 * the index of reported IMEIs. Returns the sightings' state (a talloc child of ctx), or NULL
 * with the reason in err: the import then looks for no sighting. */
struct sight *ctl_sight_open(void *ctx, struct bulk *b, const struct ceirgw_config *cfg,
			     const char *tac_path, char *err, size_t errsz);

#endif
