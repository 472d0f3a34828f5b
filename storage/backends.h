/* Entry points of the two backends, called by storage_open(). */
#ifndef KAIROS_BACKENDS_H
#define KAIROS_BACKENDS_H

#include "storage/storage.h"

/* `path` is a SpatiaLite database file; created with the current schema when missing. */
enum kairos_error spatialite_storage_open(const char *path, struct storage **out, char *err, size_t err_len);

/* `uri` is a mongodb:// or mongodb+srv:// URI naming the database. */
enum kairos_error mongo_storage_open(const char *uri, struct storage **out, char *err, size_t err_len);

#endif
