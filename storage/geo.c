/*
 * Great-circle distance and bounding boxes on the Kairos sphere (see geo.h).
 * The boxes are a prefilter for a spatial index, so they may hold points
 * farther than the radius but must never miss a point within it.
 */
#include "storage/geo.h"

#include <math.h>

#define GEO_DEG_TO_RAD (M_PI / 180.0)
#define GEO_RAD_TO_DEG (180.0 / M_PI)

/*
 * Margin added to every side of a box, in degrees (about 1 mm on the ground),
 * so that rounding in the trigonometry never leaves out a point lying exactly
 * on the circle.
 */
#define GEO_BBOX_MARGIN_DEG 1e-8

double geo_distance_m(double lng1, double lat1, double lng2, double lat2)
{
    double phi1 = lat1 * GEO_DEG_TO_RAD, phi2 = lat2 * GEO_DEG_TO_RAD;
    double dphi = (lat2 - lat1) * GEO_DEG_TO_RAD;
    double dlambda = (lng2 - lng1) * GEO_DEG_TO_RAD;

    double sin_dphi = sin(dphi / 2), sin_dlambda = sin(dlambda / 2);
    double h = sin_dphi * sin_dphi + cos(phi1) * cos(phi2) * sin_dlambda * sin_dlambda;
    /* Rounding can push h slightly outside [0, 1] for antipodal or equal points. */
    if (h > 1.0)
        h = 1.0;
    if (h < 0.0)
        h = 0.0;
    return 2.0 * GEO_EARTH_RADIUS_M * asin(sqrt(h));
}

static void geo_bbox_set(struct geo_bbox *box, double min_lng, double min_lat, double max_lng, double max_lat)
{
    box->min_lng = fmax(min_lng - GEO_BBOX_MARGIN_DEG, -180.0);
    box->min_lat = fmax(min_lat - GEO_BBOX_MARGIN_DEG, -90.0);
    box->max_lng = fmin(max_lng + GEO_BBOX_MARGIN_DEG, 180.0);
    box->max_lat = fmin(max_lat + GEO_BBOX_MARGIN_DEG, 90.0);
}

/*
 * The latitude range of the points within an angular radius r of the box is
 * [min_lat - r, max_lat + r]. When that range reaches a pole, every longitude
 * is inside. Otherwise a circle around a point at latitude lat spans
 * asin(sin r / cos lat) of longitude on each side, reached where the circle
 * touches two meridians, not on the circle's own latitude. That width grows
 * with |lat|, so the box's latitude farthest from the equator bounds it.
 */
size_t geo_bbox_around_box(const struct geo_bbox *box, double radius_m, struct geo_bbox out[2])
{
    if (!(radius_m >= 0.0))
        radius_m = 0.0;
    double r = radius_m / GEO_EARTH_RADIUS_M;
    if (r >= M_PI) {
        geo_bbox_set(&out[0], -180.0, -90.0, 180.0, 90.0);
        return 1;
    }

    double min_phi = box->min_lat * GEO_DEG_TO_RAD - r, max_phi = box->max_lat * GEO_DEG_TO_RAD + r;
    if (max_phi >= M_PI / 2 || min_phi <= -M_PI / 2) {
        /* The area contains a pole: a band of every longitude from that pole. */
        geo_bbox_set(&out[0], -180.0, fmax(min_phi, -M_PI / 2) * GEO_RAD_TO_DEG, 180.0,
                     fmin(max_phi, M_PI / 2) * GEO_RAD_TO_DEG);
        return 1;
    }

    double widest_phi = fmax(fabs(box->min_lat), fabs(box->max_lat)) * GEO_DEG_TO_RAD;
    double ratio = sin(r) / cos(widest_phi);
    if (ratio > 1.0)
        ratio = 1.0;
    double dlng = asin(ratio) * GEO_RAD_TO_DEG;
    double min_lat = min_phi * GEO_RAD_TO_DEG, max_lat = max_phi * GEO_RAD_TO_DEG;
    double min_lng = box->min_lng - dlng, max_lng = box->max_lng + dlng;

    if (max_lng - min_lng >= 360.0 - GEO_BBOX_MARGIN_DEG) {
        geo_bbox_set(&out[0], -180.0, min_lat, 180.0, max_lat);
        return 1;
    }
    /* Longitudes -180 and 180 are the same meridian, so touching it also wraps. */
    if (min_lng <= -180.0) {
        /* Crosses the antimeridian westwards: the part beyond it wraps to the east edge. */
        geo_bbox_set(&out[0], -180.0, min_lat, max_lng, max_lat);
        geo_bbox_set(&out[1], min_lng + 360.0, min_lat, 180.0, max_lat);
        return 2;
    }
    if (max_lng >= 180.0) {
        geo_bbox_set(&out[0], min_lng, min_lat, 180.0, max_lat);
        geo_bbox_set(&out[1], -180.0, min_lat, max_lng - 360.0, max_lat);
        return 2;
    }
    geo_bbox_set(&out[0], min_lng, min_lat, max_lng, max_lat);
    return 1;
}

size_t geo_bbox_around(double lng, double lat, double radius_m, struct geo_bbox out[2])
{
    struct geo_bbox point = {lng, lat, lng, lat};
    return geo_bbox_around_box(&point, radius_m, out);
}
