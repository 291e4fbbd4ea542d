/* Kannel's libgw, started once per process: its octstr, cfg and Msg packing are ours to use.
 * Its log lines come through ceirgw's logger (core/logging.h), in ceirgw's format. */
#ifndef CEIRGW_CORE_GW_H
#define CEIRGW_CORE_GW_H

/* Starts libgw once (gwlib_init); later calls do nothing. From then on libgw's warnings and
 * errors go into a pipe (libgw 1.4.5 has no log callback) that gw_log_drain() empties. */
void gw_start(void);

/* The pipe's read end, for the event loop to watch (-1 before gw_start): readable when libgw
 * logged something; the loop then calls gw_log_drain(). */
int gw_log_fd(void);

/* Re-emits what libgw logged since the last call, one ceirgw log line per libgw line, under
 * the "libgw" component. Never blocks; reads at most 64 KiB per call (the event fires again
 * for the rest). */
void gw_log_drain(void);

/* Sends libgw's raw lines to path too (NULL: no more), as libgw writes them; for tests that
 * read libgw's own output. Returns 0 or -errno. */
int gw_log_to(const char *path);

/* Drains the pipe a last time and stops libgw if it was started. */
void gw_stop(void);

#endif
