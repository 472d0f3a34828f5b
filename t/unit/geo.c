/* Tests of the distance model and of the bounding boxes used as an index prefilter. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "storage/geo.h"
#include "t/unit/tap.h"

#define DEG (M_PI / 180.0)

/* Spherical law of cosines: a second formula to check the haversine against. */
static double reference_distance_m(double lng1, double lat1, double lng2, double lat2)
{
    double c = sin(lat1 * DEG) * sin(lat2 * DEG) + cos(lat1 * DEG) * cos(lat2 * DEG) * cos((lng2 - lng1) * DEG);
    if (c > 1.0)
        c = 1.0;
    if (c < -1.0)
        c = -1.0;
    return GEO_EARTH_RADIUS_M * acos(c);
}

/* The point reached from (lng, lat) after distance_m on the initial bearing (degrees from north). */
static void destination(double lng, double lat, double bearing, double distance_m, double *lng_out, double *lat_out)
{
    double d = distance_m / GEO_EARTH_RADIUS_M, phi = lat * DEG, theta = bearing * DEG;
    double phi2 = asin(sin(phi) * cos(d) + cos(phi) * sin(d) * cos(theta));
    double lambda2 = lng * DEG + atan2(sin(theta) * sin(d) * cos(phi), cos(d) - sin(phi) * sin(phi2));
    double lng2 = fmod(lambda2 / DEG + 540.0, 360.0) - 180.0;
    *lng_out = lng2;
    *lat_out = phi2 / DEG;
}

static int box_contains(const struct geo_bbox *boxes, size_t count, double lng, double lat)
{
    for (size_t i = 0; i < count; i++)
        if (lng >= boxes[i].min_lng && lng <= boxes[i].max_lng && lat >= boxes[i].min_lat && lat <= boxes[i].max_lat)
            return 1;
    /* -180 and 180 are the same meridian. */
    if (lng == 180.0 || lng == -180.0)
        for (size_t i = 0; i < count; i++)
            if (-lng >= boxes[i].min_lng && -lng <= boxes[i].max_lng && lat >= boxes[i].min_lat &&
                lat <= boxes[i].max_lat)
                return 1;
    return 0;
}

static void test_distances(void)
{
    /* 6378100 m * pi / 180; the 111318.845 m often quoted is for the WGS84 radius 6378137 m. */
    is_near(geo_distance_m(0, 0, 1, 0), 111318.845, 0.001, "one degree of longitude on the equator");
    is_near(geo_distance_m(0, 0, 0, 1), 111318.845, 0.001, "one degree of latitude");
    is_near(geo_distance_m(0, 0, 0, 0), 0.0, 1e-9, "zero distance to the same point");
    is_near(geo_distance_m(-114.0, 51.1, -114.0, 51.1), 0.0, 1e-9, "zero distance away from the origin");

    double london_paris = geo_distance_m(-0.1278, 51.5074, 2.3522, 48.8566);
    is_near(london_paris, reference_distance_m(-0.1278, 51.5074, 2.3522, 48.8566), 0.01,
            "London to Paris matches the law of cosines");
    ok(london_paris > 340000 && london_paris < 350000, "London to Paris is about 344 km");

    is_near(geo_distance_m(179.9, 0, -179.9, 0), 22263.769, 0.001, "antimeridian pair at the equator is 22.26 km");
    is_near(geo_distance_m(-179.9, 0, 179.9, 0), geo_distance_m(179.9, 0, -179.9, 0), 1e-9,
            "antimeridian distance is symmetric");
    is_near(geo_distance_m(180, 10, -180, 10), 0.0, 1e-6, "longitudes 180 and -180 are the same meridian");

    is_near(geo_distance_m(0, 89.9, 180, 89.9), 22263.769, 0.001, "over the north pole at latitude 89.9");
    is_near(geo_distance_m(45, -89.9, -135, -89.9), 22263.769, 0.001, "over the south pole at latitude -89.9");
    is_near(geo_distance_m(0, 89.9, 90, 89.9), reference_distance_m(0, 89.9, 90, 89.9), 0.01,
            "quarter turn near the pole matches the law of cosines");
    is_near(geo_distance_m(0, 90, 123, 90), 0.0, 1e-6, "the pole is one point whatever the longitude");

    is_near(geo_distance_m(0, 0, 180, 0), M_PI * GEO_EARTH_RADIUS_M, 0.01, "antipodes are half the circumference");
    is_near(geo_distance_m(0, 90, 0, -90), M_PI * GEO_EARTH_RADIUS_M, 0.01, "pole to pole");

    srand(7);
    int symmetric = 1, matches = 1;
    for (int i = 0; i < 1000; i++) {
        double lng1 = rand() / (double)RAND_MAX * 360 - 180, lat1 = rand() / (double)RAND_MAX * 180 - 90;
        double lng2 = rand() / (double)RAND_MAX * 360 - 180, lat2 = rand() / (double)RAND_MAX * 180 - 90;
        double d = geo_distance_m(lng1, lat1, lng2, lat2);
        if (fabs(d - geo_distance_m(lng2, lat2, lng1, lat1)) > 1e-6)
            symmetric = 0;
        /* The law of cosines loses precision below a few km; random pairs are far apart. */
        if (d > 10000 && fabs(d - reference_distance_m(lng1, lat1, lng2, lat2)) > 0.01)
            matches = 0;
    }
    ok(symmetric, "distance is symmetric on 1000 random pairs");
    ok(matches, "haversine matches the law of cosines on 1000 random pairs");
}

/* Every point at radius_m from the centre, on 2000 random bearings, lies in a returned box. */
static void check_circle_inside(double lng, double lat, double radius_m, const char *name)
{
    struct geo_bbox boxes[2];
    size_t count = geo_bbox_around(lng, lat, radius_m, boxes);
    int inside = 1, well_formed = count == 1 || count == 2;
    for (size_t i = 0; i < count && i < 2; i++)
        if (boxes[i].min_lng > boxes[i].max_lng || boxes[i].min_lat > boxes[i].max_lat || boxes[i].min_lng < -180 ||
            boxes[i].max_lng > 180 || boxes[i].min_lat < -90 || boxes[i].max_lat > 90)
            well_formed = 0;
    for (int i = 0; i < 2000 && well_formed; i++) {
        double bearing = rand() / (double)RAND_MAX * 360.0, plng, plat;
        destination(lng, lat, bearing, radius_m, &plng, &plat);
        /* Points strictly inside the circle too, at a random fraction of the radius. */
        double qlng, qlat;
        destination(lng, lat, bearing, radius_m * (rand() / (double)RAND_MAX), &qlng, &qlat);
        if (!box_contains(boxes, count, plng, plat) || !box_contains(boxes, count, qlng, qlat)) {
            printf("# (%.9f, %.9f) at bearing %.3f is outside\n", plng, plat, bearing);
            inside = 0;
        }
    }
    char label[200];
    snprintf(label, sizeof(label), "boxes are well formed: %s", name);
    ok(well_formed, label);
    snprintf(label, sizeof(label), "circle lies inside the boxes: %s", name);
    ok(inside, label);
}

/* Every point within radius_m of a random point of box, on random bearings, lies in a returned box. */
static void check_box_area_inside(struct geo_bbox box, double radius_m, const char *name)
{
    struct geo_bbox boxes[2];
    size_t count = geo_bbox_around_box(&box, radius_m, boxes);
    int inside = 1;
    for (int i = 0; i < 4000; i++) {
        double lng = box.min_lng + (box.max_lng - box.min_lng) * (rand() / (double)RAND_MAX);
        double lat = box.min_lat + (box.max_lat - box.min_lat) * (rand() / (double)RAND_MAX);
        double fraction = i % 2 ? 1.0 : rand() / (double)RAND_MAX;
        double plng, plat;
        destination(lng, lat, rand() / (double)RAND_MAX * 360.0, radius_m * fraction, &plng, &plat);
        if (!box_contains(boxes, count, plng, plat)) {
            printf("# (%.9f, %.9f) from (%.6f, %.6f) is outside\n", plng, plat, lng, lat);
            inside = 0;
            break;
        }
    }
    char label[200];
    snprintf(label, sizeof(label), "area around a box lies inside the boxes: %s", name);
    ok(inside, label);
}

static void test_bbox_around_box(void)
{
    srand(13);
    check_box_area_inside((struct geo_bbox){9, 9, 11, 11}, 50000, "2-degree box, 50 km");
    check_box_area_inside((struct geo_bbox){179.5, 0, 179.99, 1}, 30000, "box at the antimeridian");
    check_box_area_inside((struct geo_bbox){-179.9, -5, -179.0, -4}, 200000, "box west of the antimeridian");
    check_box_area_inside((struct geo_bbox){0, 85, 10, 88}, 300000, "box reaching over the north pole");
    check_box_area_inside((struct geo_bbox){20, 60, 30, 70}, 100000, "high-latitude box");
    check_box_area_inside((struct geo_bbox){-120, -60, -100, -50}, 2000000, "2000 km around a southern box");

    struct geo_bbox box = {9, 9, 11, 11}, boxes[2];
    size_t n = geo_bbox_around_box(&box, 0, boxes);
    ok(n == 1 && fabs(boxes[0].min_lng - 9) < 1e-6 && fabs(boxes[0].max_lat - 11) < 1e-6,
       "zero radius around a box is the box");
    n = geo_bbox_around_box(&box, 111318.845, boxes);
    ok(n == 1 && fabs(boxes[0].min_lat - 8) < 1e-6 && fabs(boxes[0].max_lat - 12) < 1e-6,
       "one degree around a box adds one degree of latitude");
    ok(boxes[0].min_lng < 8 && boxes[0].min_lng > 7.9, "and a little more than one degree of longitude");
}

static void test_bbox(void)
{
    struct geo_bbox boxes[2];

    srand(11);
    check_circle_inside(0, 0, 1000, "1 km at the origin");
    check_circle_inside(-114.0, 51.1, 500000, "500 km in the Rockies");
    check_circle_inside(179.9, 0, 30000, "30 km east of the antimeridian");
    check_circle_inside(-179.9, 0, 30000, "30 km west of the antimeridian");
    check_circle_inside(180, 10, 5000, "centre on longitude 180");
    check_circle_inside(-180, -10, 5000, "centre on longitude -180");
    check_circle_inside(179.0, 65.0, 2000000, "2000 km across the antimeridian up north");
    check_circle_inside(10, 89.9, 30000, "30 km around latitude 89.9");
    check_circle_inside(-30, -89.5, 100000, "100 km around latitude -89.5");
    check_circle_inside(0, 80, 2000000, "2000 km reaching over the north pole");
    check_circle_inside(45, 88, 200000, "near the pole without containing it");
    check_circle_inside(0, 0, 0, "zero radius");
    check_circle_inside(0, 0, 15000000, "15000 km, beyond a quarter of the earth");
    check_circle_inside(20, -30, 21000000, "more than half the circumference");

    size_t n = geo_bbox_around(0, 0, 1000, boxes);
    is_int(n, 1, "1 km at the origin is one box");
    is_near(boxes[0].max_lat, 1000 / 111318.845, 1e-6, "1 km box reaches 0.009 degrees north");
    is_near(boxes[0].min_lng, -1000 / 111318.845, 1e-6, "1 km box reaches 0.009 degrees west");

    n = geo_bbox_around(179.9, 0, 30000, boxes);
    is_int(n, 2, "crossing the antimeridian gives two boxes");
    ok(boxes[0].max_lng == 180.0 && boxes[0].min_lng > 179.0, "first box ends at 180");
    ok(boxes[1].min_lng == -180.0 && boxes[1].max_lng < -179.0, "second box starts at -180");
    ok(box_contains(boxes, n, -179.9, 0), "the box pair contains -179.9");

    n = geo_bbox_around(179.9, 0, 10000, boxes);
    is_int(n, 1, "10 km from 179.9 does not cross the antimeridian");
    ok(!box_contains(boxes, n, -179.9, 0), "and does not contain -179.9");

    n = geo_bbox_around(0, 89.9, 30000, boxes);
    is_int(n, 1, "a circle around the north pole is one box");
    ok(boxes[0].min_lng == -180.0 && boxes[0].max_lng == 180.0, "that box spans every longitude");
    is_near(boxes[0].max_lat, 90.0, 1e-12, "that box reaches the north pole");
    is_near(boxes[0].min_lat, 89.9 - 30000 / 111318.845, 1e-6, "that box starts below the centre");

    n = geo_bbox_around(0, -89.9, 30000, boxes);
    ok(n == 1 && boxes[0].min_lat == -90.0, "a circle around the south pole reaches -90");

    n = geo_bbox_around(0, 0, 21000000, boxes);
    ok(n == 1 && boxes[0].min_lng == -180 && boxes[0].max_lng == 180 && boxes[0].min_lat == -90 &&
           boxes[0].max_lat == 90,
       "a radius past half the circumference is the whole world");

    /* The box is tight: points just beyond the radius due north and due east fall outside it. */
    double plng, plat;
    n = geo_bbox_around(5, 45, 10000, boxes);
    destination(5, 45, 0, 10100, &plng, &plat);
    ok(!box_contains(boxes, n, plng, plat), "point 1% beyond the radius due north is outside");
    destination(5, 45, 180, 10100, &plng, &plat);
    ok(!box_contains(boxes, n, plng, plat), "point 1% beyond the radius due south is outside");
}

int main(void)
{
    test_distances();
    test_bbox();
    test_bbox_around_box();
    return tap_done();
}
