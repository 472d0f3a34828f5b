/* The version of Kairos that GET /health reports. */
#ifndef KAIROS_VERSION_H
#define KAIROS_VERSION_H

#define KAIROS_VERSION "1.0.0"

#endif
