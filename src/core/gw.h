/* Kannel's libgw, started once per process: its octstr, cfg and (later) Msg packing are
 * ours to use; its own log goes to stderr (or our log file) from warnings up. */
#ifndef CEIRGW_CORE_GW_H
#define CEIRGW_CORE_GW_H

/* Starts libgw once (gwlib_init); later calls do nothing. */
void gw_start(void);

/* Sends libgw's own messages to path too (NULL: stderr only). Returns 0 or -errno. */
int gw_log_to(const char *path);

/* Stops libgw if it was started. */
void gw_stop(void);

#endif
