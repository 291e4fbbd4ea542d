/* `ceirgwctl feed`: the operator's side of the cross-border feed of CEIR decisions (issue 19,
 * signed checkpoints as C2SP signed-note, the log as C2SP tlog-tiles): making the signing
 * key, the feeds' status, auditing any feed, exporting the own one as files. */
#ifndef CEIRGW_CTL_FEED_H
#define CEIRGW_CTL_FEED_H

/* argv[0] is "feed", argv[1] the subcommand (keygen, status, verify, export); the options
 * are read with getopt_long. Returns the process exit code: 0, 1 when the command failed (a
 * key not written, a feed not verified, Redis unreadable), 2 on a usage error. */
int feed_main(void *ctx, int argc, char **argv);

#endif
