/*
 * The master process of `kairos serve`: binds the listening socket, forks the
 * workers and the mail sender, and supervises them until SIGTERM or SIGINT.
 */
#ifndef KAIROS_MASTER_H
#define KAIROS_MASTER_H

#include "server/config.h"

/*
 * Runs the server with cfg until it is stopped, and returns the process exit
 * code: 0 after SIGTERM or SIGINT once the workers have drained, 1 when the
 * server cannot start (address in use, storage that cannot open), 2 when the
 * mail settings cannot work. Signals the master handles:
 * - SIGTERM, SIGINT: stop accepting, let each worker finish its requests in
 *   flight (at most FRONTEND_DRAIN_TIMEOUT_MS), stop the mail sender, exit;
 * - SIGHUP: replace the workers one at a time; the listening socket stays
 *   open in the master, so no connection is refused meanwhile.
 * A worker or mail sender that dies is started again, after a delay that
 * grows while it keeps dying soon after its start.
 */
int master_run(const struct config *cfg);

#endif
