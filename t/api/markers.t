# Markers: add, list, update, delete, ownership and the validation of
# coordinates and dates.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Test::More;
use KairosTest qw(for_each_backend hex_id is_rfc3339_ms);

sub marker_body {
    my (%over) = @_;
    return {
        name           => 'Camp',
        marker_type    => 'past',
        coordinates    => { type => 'Point', coordinates => [-114.0, 51.1] },
        timestamp      => '2026-06-12',
        estimated_time => undef,
        notes          => 'Bear box at the site',
        %over,
    };
}

for_each_backend(sub {
    my ($srv) = @_;
    my $ada = $srv->new_rider(name => 'Ada');
    my $bob = $srv->new_rider(name => 'Bob');
    my $journey = $srv->create_journey($ada, name => 'Great Divide')->{_id};
    my $other_journey = $srv->create_journey($ada, name => 'Other')->{_id};
    my $markers_path = "/journeys/$journey/markers";

    subtest 'add' => sub {
        my ($status, $marker) = $srv->request(POST => $markers_path, token => $ada->{access},
            json => marker_body(journey_id => $other_journey, owner_id => $bob->{id}));
        is $status, 201, 'add answers 201';
        is_deeply [sort keys %$marker],
            [qw(_id coordinates created_at estimated_time journey_id marker_type name notes owner_id timestamp)],
            'marker has the answered fields';
        ok hex_id($marker->{_id}), '_id is 24 hex characters';
        is $marker->{journey_id}, $journey, 'journey_id is the path journey, not the body';
        is $marker->{owner_id}, $ada->{id}, 'owner_id is the caller, not the body';
        is_deeply $marker->{coordinates}, { type => 'Point', coordinates => [-114.0, 51.1] }, 'coordinates kept';
        is $marker->{timestamp}, '2026-06-12', 'timestamp kept';
        is $marker->{estimated_time}, undef, 'estimated_time null';
        is $marker->{notes}, 'Bear box at the site', 'notes kept';
        ok is_rfc3339_ms($marker->{created_at}), "created_at '$marker->{created_at}' is RFC 3339 UTC with ms";

        my ($plan_status, $plan) = $srv->request(POST => $markers_path, token => $ada->{access},
            json => marker_body(marker_type => 'plan', timestamp => undef, estimated_time => '2026-07-01',
                coordinates => { type => 'Point', coordinates => [-113.5, 50.2, 1432.5] }));
        is $plan_status, 201, 'plan marker with altitude answers 201';
        is $plan->{marker_type}, 'plan', 'marker_type plan kept';
        is $plan->{estimated_time}, '2026-07-01', 'estimated_time kept';
        is_deeply $plan->{coordinates}{coordinates}, [-113.5, 50.2, 1432.5], 'altitude kept';

        my ($unknown_status, $unknown) = $srv->request(POST => '/journeys/0123456789abcdef01234567/markers',
            token => $ada->{access}, json => marker_body());
        is $unknown_status, 404, 'add to an unknown journey answers 404';
        is $unknown->{detail}, 'Journey not found', 'add to an unknown journey detail';
        my ($anonymous) = $srv->request(POST => $markers_path, json => marker_body());
        is $anonymous, 401, 'add without a token answers 401';
    };

    subtest 'list in order' => sub {
        my $id = $srv->create_journey($ada, name => 'Ordered')->{_id};
        my @added = map { $srv->add_marker($ada, $id, 6 + $_ / 10, 46, name => "Stop $_")->{_id} } 1 .. 5;
        my ($status, $list) = $srv->request(GET => "/journeys/$id/markers", token => $bob->{access});
        is $status, 200, 'list answers 200 to another rider';
        is_deeply [map { $_->{_id} } @$list], \@added, 'markers are listed in the order they were added';
        my (undef, $empty) = $srv->request(GET => "/journeys/$other_journey/markers", token => $ada->{access});
        is_deeply $empty, [], 'a journey without markers lists none';
        my ($unknown) = $srv->request(GET => '/journeys/0123456789abcdef01234567/markers', token => $ada->{access});
        is $unknown, 404, 'markers of an unknown journey answer 404';
    };

    subtest 'update' => sub {
        my $marker = $srv->add_marker($ada, $journey, -114.0, 51.1);
        my $path = "$markers_path/$marker->{_id}";
        my ($status, $updated) = $srv->request(PUT => $path, token => $ada->{access},
            json => marker_body(name => 'Moved camp', coordinates => { type => 'Point', coordinates => [-114.2, 51.0] },
                notes => '', timestamp => '2026-06-13', owner_id => $bob->{id}, journey_id => $other_journey));
        is $status, 200, 'PUT answers 200';
        is $updated->{_id}, $marker->{_id}, '_id unchanged';
        is $updated->{name}, 'Moved camp', 'name updated';
        is_deeply $updated->{coordinates}{coordinates}, [-114.2, 51.0], 'coordinates updated';
        is $updated->{timestamp}, '2026-06-13', 'timestamp updated';
        is $updated->{notes}, '', 'notes updated';
        is $updated->{journey_id}, $journey, 'journey_id in the body is ignored';
        is $updated->{owner_id}, $ada->{id}, 'owner_id in the body is ignored';
        is $updated->{created_at}, $marker->{created_at}, 'created_at unchanged';
        my (undef, $list) = $srv->request(GET => $markers_path, token => $ada->{access});
        my ($stored) = grep { $_->{_id} eq $marker->{_id} } @$list;
        is_deeply $stored, $updated, 'the update is stored';

        my ($wrong_status, $wrong) = $srv->request(PUT => "/journeys/$other_journey/markers/$marker->{_id}",
            token => $ada->{access}, json => marker_body());
        is $wrong_status, 404, 'PUT through another journey answers 404';
        is $wrong->{detail}, 'Marker not found', 'PUT through another journey detail';
        my ($bad_id, $bad) = $srv->request(PUT => "$markers_path/nope", token => $ada->{access}, json => marker_body());
        is $bad_id, 422, 'malformed marker id answers 422';
        is_deeply $bad->{detail}[0]{loc}, ['path', 'marker_id'], 'loc names the marker_id path parameter';
    };

    subtest 'delete' => sub {
        my $marker = $srv->add_marker($ada, $journey, -114.0, 51.1);
        my ($wrong_status, $wrong) = $srv->request(DELETE => "/journeys/$other_journey/markers/$marker->{_id}",
            token => $ada->{access});
        is $wrong_status, 404, 'DELETE through another journey answers 404';
        is $wrong->{detail}, 'Marker not found', 'DELETE through another journey detail';

        my ($status, undef, undef, $raw) = $srv->request(DELETE => "$markers_path/$marker->{_id}", token => $ada->{access});
        is $status, 204, 'DELETE answers 204';
        is $raw, '', '204 has no body';
        my (undef, $list) = $srv->request(GET => $markers_path, token => $ada->{access});
        ok !(grep { $_->{_id} eq $marker->{_id} } @$list), 'the marker is gone from the list';
        my ($again, $body) = $srv->request(DELETE => "$markers_path/$marker->{_id}", token => $ada->{access});
        is $again, 404, 'deleting it again answers 404';
        is $body->{detail}, 'Marker not found', 'deleting it again detail';
    };

    subtest 'another rider' => sub {
        my $marker = $srv->add_marker($ada, $journey, -114.0, 51.1);
        for my $case ([POST => $markers_path, json => marker_body()],
                      [PUT => "$markers_path/$marker->{_id}", json => marker_body(name => 'Mine now')],
                      [DELETE => "$markers_path/$marker->{_id}"]) {
            my ($method, $path, @body) = @$case;
            my ($status, $body) = $srv->request($method, $path, token => $bob->{access}, @body);
            is $status, 403, "$method by another rider answers 403";
            is $body && $body->{detail}, 'Not allowed', "$method by another rider detail";
        }
        my (undef, $list) = $srv->request(GET => $markers_path, token => $ada->{access});
        my ($stored) = grep { $_->{_id} eq $marker->{_id} } @$list;
        is_deeply $stored, $marker, 'the marker is unchanged';
    };

    subtest 'coordinates validation' => sub {
        my @cases = (
            ['longitude 181',  [181, 45],     qr/longitude/i],
            ['longitude -181', [-181, 45],    qr/longitude/i],
            ['latitude 91',    [10, 91],      qr/latitude/i],
            ['latitude -91',   [10, -91],     qr/latitude/i],
            ['NaN string',     ['NaN', 45],   undef],
            ['Infinity string', [10, 'Infinity'], undef],
            ['numeric strings', ['10', '45'], undef],
            ['one number',     [10],          undef],
            ['null longitude', [undef, 45],   undef],
        );
        for my $case (@cases) {
            my ($name, $coordinates, $msg) = @$case;
            my ($status, $body) = $srv->request(POST => $markers_path, token => $ada->{access},
                json => marker_body(coordinates => { type => 'Point', coordinates => $coordinates }));
            is $status, 422, "$name answers 422";
            my $error = $body && ref $body->{detail} eq 'ARRAY' ? $body->{detail}[0] : {};
            my @loc = @{ $error->{loc} // [] };
            if ($msg) {
                is_deeply \@loc, ['body', 'coordinates', 'coordinates'], "$name: loc is the coordinates array";
                like $error->{msg} // '', $msg, "$name: msg names the axis";
            } else {
                is_deeply [@loc[0 .. 2]], ['body', 'coordinates', 'coordinates'], "$name: loc starts at the coordinates array";
            }
        }

        for my $case (['type Polygon', { type => 'Polygon', coordinates => [10, 45] }],
                      ['coordinates as a string', '10,45'],
                      ['coordinates without a type', { coordinates => [10, 45] }]) {
            my ($name, $coordinates) = @$case;
            my ($status, $body) = $srv->request(POST => $markers_path, token => $ada->{access},
                json => marker_body(coordinates => $coordinates));
            is $status, 422, "$name answers 422";
            my $loc = $body && ref $body->{detail} eq 'ARRAY' ? $body->{detail}[0]{loc} : [];
            is_deeply [@$loc[0, 1]], ['body', 'coordinates'], "$name: loc starts with body, coordinates";
        }

        my %missing = %{ marker_body() };
        delete $missing{coordinates};
        my ($status, $body) = $srv->request(POST => $markers_path, token => $ada->{access}, json => \%missing);
        is $status, 422, 'missing coordinates answers 422';
        is_deeply $body->{detail}[0]{loc}, ['body', 'coordinates'], 'missing coordinates: loc names them';

        for my $edge ([180, 90], [-180, -90], [0, 0]) {
            my ($edge_status, $marker) = $srv->request(POST => $markers_path, token => $ada->{access},
                json => marker_body(coordinates => { type => 'Point', coordinates => $edge }));
            is $edge_status, 201, "[$edge->[0], $edge->[1]] is accepted";
            is_deeply $marker->{coordinates}{coordinates}, $edge, "[$edge->[0], $edge->[1]] is kept";
        }
    };

    subtest 'other field validation' => sub {
        for my $case (['2026-02-30', 422], ['2026-13-01', 422], ['2026-6-1', 422], ['12/06/2026', 422],
                      ['2024-02-29', 201], ['2025-02-29', 422]) {
            my ($date, $expected) = @$case;
            my ($status, $body) = $srv->request(POST => $markers_path, token => $ada->{access},
                json => marker_body(timestamp => $date));
            is $status, $expected, "timestamp $date answers $expected";
            is_deeply $body->{detail}[0]{loc}, ['body', 'timestamp'], "timestamp $date: loc names it" if $expected == 422;
        }
        my ($estimated) = $srv->request(POST => $markers_path, token => $ada->{access},
            json => marker_body(marker_type => 'plan', estimated_time => '2026-02-30'));
        is $estimated, 422, 'estimated_time 2026-02-30 answers 422';
        my ($type_status, $type_body) = $srv->request(POST => $markers_path, token => $ada->{access},
            json => marker_body(marker_type => 'future'));
        is $type_status, 422, 'marker_type other than past or plan answers 422';
        is_deeply $type_body->{detail}[0]{loc}, ['body', 'marker_type'], 'loc names marker_type';
        my ($notes) = $srv->request(POST => $markers_path, token => $ada->{access}, json => marker_body(notes => 'n' x 10_001));
        is $notes, 422, 'notes over 10,000 bytes answer 422';
        my ($notes_max) = $srv->request(POST => $markers_path, token => $ada->{access}, json => marker_body(notes => 'n' x 10_000));
        is $notes_max, 201, 'notes of 10,000 bytes are accepted';
    };
});

done_testing;
