# Journeys: create, list, the active toggle, completion, delete and ownership.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use JSON::PP ();
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(sleep);
use KairosTest qw(for_each_backend hex_id is_rfc3339_ms);

my $UNKNOWN_ID = '0123456789abcdef01234567';

sub journey_state {
    my ($srv, $rider, $id) = @_;
    my ($status, $journey) = $srv->request(GET => "/journeys/$id", token => $rider->{access});
    return $status == 200 ? $journey : undef;
}

sub active_ids {
    my ($srv, $rider) = @_;
    my (undef, $list) = $srv->request(GET => "/users/$rider->{id}/journeys", token => $rider->{access});
    return [map { $_->{_id} } grep { $_->{active} } @{ $list // [] }];
}

for_each_backend(sub {
    my ($srv) = @_;
    my $ada = $srv->new_rider(name => 'Ada');
    my $bob = $srv->new_rider(name => 'Bob');

    subtest 'create' => sub {
        my ($status, $journey) = $srv->request(POST => '/journeys/', token => $ada->{access},
            json => { name => 'Tour Divide 2026', user_id => $bob->{id} });
        is $status, 201, 'create answers 201';
        is_deeply [sort keys %$journey], [qw(_id active completed created_at description name user_id)],
            'journey has the answered fields';
        ok hex_id($journey->{_id}), '_id is 24 hex characters';
        is $journey->{name}, 'Tour Divide 2026', 'name kept';
        is $journey->{description}, '', 'description defaults to the empty string';
        is $journey->{user_id}, $ada->{id}, 'journey belongs to the caller, user_id in the body is ignored';
        ok is_rfc3339_ms($journey->{created_at}), "created_at '$journey->{created_at}' is RFC 3339 UTC with ms";
        ok defined $journey->{active} && !$journey->{active}, 'active defaults to false';
        ok defined $journey->{completed} && !$journey->{completed}, 'completed defaults to false';

        my ($get_status, $got) = $srv->request(GET => "/journeys/$journey->{_id}", token => $bob->{access});
        is $get_status, 200, 'another rider can read the journey';
        is_deeply $got, $journey, 'GET answers the created journey';

        my ($no_slash) = $srv->request(POST => '/journeys', token => $ada->{access}, json => { name => 'No slash' });
        is $no_slash, 201, 'POST /journeys without the trailing slash answers 201';
        my ($no_name, $body) = $srv->request(POST => '/journeys/', token => $ada->{access}, json => { description => 'x' });
        is $no_name, 422, 'journey without a name answers 422';
        is_deeply $body->{detail}[0]{loc}, ['body', 'name'], 'loc names the missing name';
        my ($long_name) = $srv->request(POST => '/journeys/', token => $ada->{access}, json => { name => 'n' x 201 });
        is $long_name, 422, 'a name over 200 bytes answers 422';
        my ($long_description) = $srv->request(POST => '/journeys/', token => $ada->{access},
            json => { name => 'Wordy', description => 'd' x 10_001 });
        is $long_description, 422, 'a description over 10,000 bytes answers 422';
        my ($both, $both_body) = $srv->request(POST => '/journeys/', token => $ada->{access},
            json => { name => 'Contradiction', active => JSON::PP::true, completed => JSON::PP::true });
        is $both, 422, 'a journey created both active and completed answers 422';
        is_deeply $both_body->{detail}[0]{loc}, ['body', 'active'], 'loc names active';
        my ($anonymous) = $srv->request(POST => '/journeys/', json => { name => 'Nobody' });
        is $anonymous, 401, 'create without a token answers 401';
    };

    subtest 'list newest first' => sub {
        my $rider = $srv->new_rider(name => 'Lister');
        my @created;
        for my $name ('First', 'Second', 'Third') {
            push @created, $srv->create_journey($rider, name => $name)->{_id};
            sleep 0.01;
        }
        my ($status, $list) = $srv->request(GET => "/users/$rider->{id}/journeys", token => $ada->{access});
        is $status, 200, 'list answers 200';
        is_deeply [map { $_->{_id} } @$list], [reverse @created], 'journeys are listed newest first';
        my ($empty_status, $empty) = $srv->request(GET => "/users/$bob->{id}/journeys/", token => $bob->{access});
        is $empty_status, 200, 'list with a trailing slash answers 200';
        is_deeply $empty, [], 'a rider without journeys lists none';
    };

    subtest 'active toggle' => sub {
        my $rider = $srv->new_rider(name => 'Toggler');
        my $one = $srv->create_journey($rider, name => 'One')->{_id};
        my $two = $srv->create_journey($rider, name => 'Two')->{_id};

        my ($none_status, $none) = $srv->request(GET => "/users/$rider->{id}/journeys/active", token => $rider->{access});
        is $none_status, 404, 'no active journey answers 404';
        is $none->{detail}, 'No active journey found', 'no active journey detail';

        my ($status, undef, undef, $raw) = $srv->request(PATCH => "/journeys/$one/active", token => $rider->{access});
        is $status, 204, 'toggle answers 204';
        is $raw, '', '204 has no body';
        ok journey_state($srv, $rider, $one)->{active}, 'an inactive journey becomes active';
        my (undef, $active) = $srv->request(GET => "/users/$rider->{id}/journeys/active", token => $rider->{access});
        is $active->{_id}, $one, 'the active journey is answered';

        $srv->request(PATCH => "/journeys/$two/active", token => $rider->{access});
        is_deeply active_ids($srv, $rider), [$two], 'activating another journey deactivates the first';

        $srv->request(PATCH => "/journeys/$two/active", token => $rider->{access});
        is_deeply active_ids($srv, $rider), [], 'toggling the active journey makes it inactive';

        my $three = $srv->create_journey($rider, name => 'Three', active => JSON::PP::true)->{_id};
        ok journey_state($srv, $rider, $three)->{active}, 'a journey created active is active';
        $srv->request(PATCH => "/journeys/$one/active", token => $rider->{access});
        my $four = $srv->create_journey($rider, name => 'Four', active => JSON::PP::true)->{_id};
        is_deeply active_ids($srv, $rider), [$four], 'creating an active journey deactivates the other';
    };

    subtest 'at most one active journey under concurrent toggles' => sub {
        my $rider = $srv->new_rider(name => 'Racer');
        my $left = $srv->create_journey($rider, name => 'Left')->{_id};
        my $right = $srv->create_journey($rider, name => 'Right')->{_id};
        my $violations = 0;
        for my $round (1 .. 10) {
            my $pid = fork;
            die "fork: $!" unless defined $pid;
            if ($pid == 0) {
                my ($status) = $srv->request(PATCH => "/journeys/$right/active", token => $rider->{access});
                _exit($status == 204 ? 0 : 1);
            }
            my ($status) = $srv->request(PATCH => "/journeys/$left/active", token => $rider->{access});
            waitpid $pid, 0;
            is $status, 204, "round $round: toggle answers 204";
            is $?, 0, "round $round: concurrent toggle answers 204";
            my $active = active_ids($srv, $rider);
            $violations++ if @$active > 1;
        }
        is $violations, 0, 'never more than one active journey';
    };

    subtest 'complete and update' => sub {
        my $rider = $srv->new_rider(name => 'Finisher');
        my $id = $srv->create_journey($rider, name => 'Almost done', active => JSON::PP::true)->{_id};

        my ($status, undef, undef, $raw) = $srv->request(PATCH => "/journeys/$id", token => $rider->{access});
        is $status, 204, 'PATCH without a body answers 204';
        my $journey = journey_state($srv, $rider, $id);
        ok $journey->{completed}, 'PATCH without a body marks the journey completed';
        ok !$journey->{active}, 'a completed journey is inactive';

        my ($toggle_status) = $srv->request(PATCH => "/journeys/$id/active", token => $rider->{access});
        is $toggle_status, 409, 'activating a completed journey answers 409';
        ok !journey_state($srv, $rider, $id)->{active}, 'the completed journey stays inactive';

        my ($update_status) = $srv->request(PATCH => "/journeys/$id", token => $rider->{access},
            json => { name => 'Renamed', description => 'Banff to Antelope Wells', completed => JSON::PP::false });
        is $update_status, 204, 'PATCH with a JSON body answers 204';
        $journey = journey_state($srv, $rider, $id);
        is $journey->{name}, 'Renamed', 'name updated';
        is $journey->{description}, 'Banff to Antelope Wells', 'description updated';
        ok !$journey->{completed}, 'completed updated';

        my ($partial) = $srv->request(PATCH => "/journeys/$id", token => $rider->{access}, json => { description => 'Only this' });
        is $partial, 204, 'PATCH with one field answers 204';
        $journey = journey_state($srv, $rider, $id);
        is $journey->{name}, 'Renamed', 'fields not sent are kept';
        is $journey->{description}, 'Only this', 'the field sent is applied';

        my ($empty_object) = $srv->request(PATCH => "/journeys/$id", token => $rider->{access}, json => {});
        is $empty_object, 204, 'PATCH with {} answers 204';
        is_deeply journey_state($srv, $rider, $id), $journey, 'PATCH with {} changes nothing';

        my ($typed_empty) = $srv->request(PATCH => "/journeys/$id", token => $rider->{access},
            body => '', type => 'application/json');
        is $typed_empty, 204, 'PATCH with Content-Type application/json and an empty body answers 204';
        ok journey_state($srv, $rider, $id)->{completed}, 'an empty JSON-typed body marks the journey completed';

        my ($bad) = $srv->request(PATCH => "/journeys/$id", token => $rider->{access}, json => { completed => 'yes' });
        is $bad, 422, 'completed that is not a boolean answers 422';
    };

    subtest 'delete' => sub {
        my $journey = $srv->create_journey($ada, name => 'Short trip');
        my $marker = $srv->add_marker($ada, $journey->{_id}, 7.0, 46.0);
        my ($status, undef, undef, $raw) = $srv->request(DELETE => "/journeys/$journey->{_id}", token => $ada->{access});
        is $status, 204, 'delete answers 204';
        is $raw, '', '204 has no body';
        my ($get_status, $body) = $srv->request(GET => "/journeys/$journey->{_id}", token => $ada->{access});
        is $get_status, 404, 'deleted journey answers 404';
        is $body->{detail}, 'Journey not found', 'deleted journey detail';
        my ($again) = $srv->request(DELETE => "/journeys/$journey->{_id}", token => $ada->{access});
        is $again, 404, 'deleting it again answers 404';
        my ($markers_status, $markers) = $srv->request(GET => "/journeys/$journey->{_id}/markers", token => $ada->{access});
        ok $markers_status == 404 || ($markers_status == 200 && !@$markers), 'its markers are gone';
    };

    subtest 'owner routes refuse another rider' => sub {
        my $journey = $srv->create_journey($ada, name => 'Mine');
        my $id = $journey->{_id};
        my $marker = $srv->add_marker($ada, $id, 7.0, 46.0);
        my %marker_body = (name => 'Theirs', marker_type => 'past',
            coordinates => { type => 'Point', coordinates => [8.0, 47.0] });
        my @cases = (
            [DELETE => "/journeys/$id"],
            [PATCH  => "/journeys/$id/active"],
            [PATCH  => "/journeys/$id"],
            [PATCH  => "/journeys/$id", json => { name => 'Stolen' }],
            [POST   => "/journeys/$id/markers", json => \%marker_body],
            [PUT    => "/journeys/$id/markers/$marker->{_id}", json => \%marker_body],
            [DELETE => "/journeys/$id/markers/$marker->{_id}"],
        );
        for my $case (@cases) {
            my ($method, $path, @body) = @$case;
            my ($status, $body) = $srv->request($method, $path, token => $bob->{access}, @body);
            my $what = "$method $path" . (@body ? ' with a body' : '');
            is $status, 403, "$what by another rider answers 403";
            is $body && $body->{detail}, 'Not allowed', "$what detail";
        }
        is_deeply journey_state($srv, $ada, $id), $journey, 'the journey is unchanged';
        my (undef, $markers) = $srv->request(GET => "/journeys/$id/markers", token => $bob->{access});
        is_deeply $markers, [$marker], 'the markers are unchanged';
    };

    subtest 'bad and unknown ids' => sub {
        for my $bad ('123', 'zzzzzzzzzzzzzzzzzzzzzzzz', '0123456789abcdef012345678', '%zz', '0123456789abcdef0123456%00') {
            my ($status, $body) = $srv->request(GET => "/journeys/$bad", token => $ada->{access});
            is $status, 422, "journey id '$bad' answers 422";
            is_deeply $body->{detail}[0]{loc}, ['path', 'journey_id'], "journey id '$bad': loc is the path parameter";
        }
        my ($status, $body) = $srv->request(GET => "/journeys/$UNKNOWN_ID", token => $ada->{access});
        is $status, 404, 'unknown journey answers 404';
        is $body->{detail}, 'Journey not found', 'unknown journey detail';
        for my $case ([DELETE => "/journeys/$UNKNOWN_ID"], [PATCH => "/journeys/$UNKNOWN_ID/active"],
                      [PATCH => "/journeys/$UNKNOWN_ID"]) {
            my ($case_status) = $srv->request(@$case, token => $ada->{access});
            is $case_status, 404, "$case->[0] $case->[1] answers 404";
        }
    };
});

done_testing;
