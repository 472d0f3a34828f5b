/*
 * Mail: the outbox sender process and its transports. Handlers never send
 * mail; they add an outbox entry (storage mail_enqueue) and the sender, a
 * process forked by the master, delivers it.
 */
#ifndef KAIROS_MAIL_H
#define KAIROS_MAIL_H

#include "server/config.h"
#include "storage/storage.h"

/*
 * Runs the sender loop in the current (freshly forked) process: opens its own
 * storage, claims due outbox entries, delivers them, until SIGTERM. Returns
 * the process exit code.
 */
int mail_sender_run(const struct config *cfg);

/*
 * Delivers the entries due now once and returns (the Lambda scheduled drain and
 * tests). Sets *sent and *failed when not NULL.
 */
enum kairos_error mail_drain_once(const struct config *cfg, struct storage *storage, size_t *sent, size_t *failed);

#endif
