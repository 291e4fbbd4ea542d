/* `ceirgwctl feed`: the operator's side of the cross-border feed of blocked IMEIs (signed
 * checkpoints, C2SP signed-note). For now, making the feed's signing key. */
#ifndef CEIRGW_CTL_FEED_H
#define CEIRGW_CTL_FEED_H

/* argv[0] is "feed", argv[1] the subcommand ("keygen"); the options are read with
 * getopt_long. Returns the process exit code: 0, 1 when the key could not be made or
 * written, 2 on a usage error. */
int feed_main(void *ctx, int argc, char **argv);

#endif
