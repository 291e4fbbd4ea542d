/* `ceirgwctl phone`: a feature phone on a terminal that dials USSD codes and texts the short
 * code through the gateway's aggregator-style HTTP callbacks, and stands in for Kannel's
 * sendsms interface to show the SMS notifications the gateway sends to it. */
#ifndef CEIRGW_CTL_PHONE_H
#define CEIRGW_CTL_PHONE_H

/* Runs the phone until standard input ends (or "quit") and --linger has passed. argv[0] is
 * "phone"; the options are read with getopt_long. Allocates under ctx and frees all of it
 * before returning. Returns the process exit code: 0, 1 on an error (a listen socket that
 * cannot be opened; with standard input not a terminal, a gateway that could not be reached
 * at least once), 2 on a usage error. */
int phone_main(void *ctx, int argc, char **argv);

#endif
