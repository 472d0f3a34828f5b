/*
 * The distance model of Kairos: great-circle distance on a sphere of radius
 * 6378100 m, the model MongoDB uses for $geoNear with spherical: true and for
 * $centerSphere. Both backends compute distances with these functions or with
 * the same formula, so they give the same results. Distances ignore altitude.
 */
#ifndef KAIROS_GEO_H
#define KAIROS_GEO_H

#include <stddef.h>

#define GEO_EARTH_RADIUS_M 6378100.0

/* Haversine distance in metres between two points given in degrees. */
double geo_distance_m(double lng1, double lat1, double lng2, double lat2);

/* A longitude/latitude rectangle in degrees, min <= max on both axes. */
struct geo_bbox {
    double min_lng, min_lat, max_lng, max_lat;
};

/*
 * Fills out[] with one or two rectangles that together contain every point
 * within radius_m of (lng, lat): two when the circle crosses the antimeridian,
 * a full longitude band when it contains a pole. Returns the count (1 or 2).
 * Used as a spatial-index prefilter; the exact test is geo_distance_m.
 */
size_t geo_bbox_around(double lng, double lat, double radius_m, struct geo_bbox out[2]);

/*
 * Like geo_bbox_around, for every point within radius_m of some point of box.
 * The box must not cross the antimeridian (min_lng <= max_lng).
 */
size_t geo_bbox_around_box(const struct geo_bbox *box, double radius_m, struct geo_bbox out[2]);

#endif
