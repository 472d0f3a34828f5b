# Nearby journeys: the compat list of ids, the rich list, max_distance and the
# distance model (a sphere of radius 6378100 m) across the antimeridian and
# near a pole.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Test::More;
use KairosTest qw(for_each_backend distance_m);

for_each_backend(sub {
    my ($srv) = @_;

    # Ada's journey at Lausanne; Bob about 1.1 km away, Cleo about 11 km,
    # Dan about 550 km. Ada's second journey lies far away, in the Indian Ocean.
    my %at = (
        ada  => [6.6323, 46.5197],
        bob  => [6.6323, 46.5297],
        cleo => [6.7763, 46.5197],
        dan  => [6.6323, 51.4650],
    );
    my %rider;
    my %journey;
    for my $name (sort keys %at) {
        $rider{$name} = $srv->new_rider(name => ucfirst $name);
        $journey{$name} = $srv->create_journey($rider{$name}, name => "\u${name}'s journey")->{_id};
        $srv->add_marker($rider{$name}, $journey{$name}, @{ $at{$name} });
    }
    my $ada_second = $srv->create_journey($rider{ada}, name => 'Second')->{_id};
    my $lonely = $srv->create_journey($rider{ada}, name => 'No markers')->{_id};
    $srv->add_marker($rider{ada}, $ada_second, 40.0, -20.0);
    my $token = $rider{bob}{access};
    my %expected = map { $_ => distance_m(@{ $at{ada} }, @{ $at{$_} }) } qw(bob cleo dan);

    subtest 'compat list of ids' => sub {
        my ($status, $ids) = $srv->request(GET => "/journeys/$journey{ada}/journeys/nearby", token => $token);
        is $status, 200, 'nearby ids answer 200';
        is_deeply $ids, [$journey{bob}, $journey{cleo}], 'default 500 km: the two near journeys, nearest first';
        ok !(grep { $_ eq $journey{ada} } @$ids), 'the journey itself is not its own neighbour';

        my (undef, $wide) = $srv->request(GET => "/journeys/$journey{ada}/journeys/nearby?max_distance=2000000",
            token => $token);
        is_deeply $wide, [$journey{bob}, $journey{cleo}, $journey{dan}], 'at 2000 km all three, nearest first';

        my (undef, $close) = $srv->request(GET => "/journeys/$journey{ada}/journeys/nearby?max_distance=5000",
            token => $token);
        is_deeply $close, [$journey{bob}], 'at 5 km only the nearest';

        my (undef, $from_bob) = $srv->request(GET => "/journeys/$journey{bob}/journeys/nearby?max_distance=5000",
            token => $token);
        is_deeply $from_bob, [$journey{ada}], 'the relation holds both ways';

        my (undef, $none) = $srv->request(GET => "/journeys/$lonely/journeys/nearby", token => $token);
        is_deeply $none, [], 'a journey without markers has no neighbours';
        my ($unknown) = $srv->request(GET => '/journeys/0123456789abcdef01234567/journeys/nearby', token => $token);
        is $unknown, 404, 'nearby of an unknown journey answers 404';
        my ($anonymous) = $srv->request(GET => "/journeys/$journey{ada}/journeys/nearby");
        is $anonymous, 401, 'nearby without a token answers 401';
    };

    subtest 'rich list' => sub {
        my ($status, $list) = $srv->request(GET => "/journeys/$journey{ada}/nearby?max_distance=2000000", token => $token);
        is $status, 200, 'rich nearby answers 200';
        is scalar(@$list), 3, 'three neighbours';
        my @names = qw(bob cleo dan);
        for my $i (0 .. $#names) {
            my $entry = $list->[$i] // {};
            my $name = $names[$i];
            is $entry->{journey}{_id}, $journey{$name}, "entry $i is $name\'s journey";
            is $entry->{journey}{user_id}, $rider{$name}{id}, "entry $i journey has its user_id";
            ok abs(($entry->{distance_m} // -1) - $expected{$name}) < 1,
                sprintf('entry %d distance_m %s is within 1 m of %.1f', $i, $entry->{distance_m} // 'undef', $expected{$name});
            is $entry->{user}{_id}, $rider{$name}{id}, "entry $i user is $name";
            is $entry->{user}{name}, ucfirst($name), "entry $i user carries the name";
            ok !exists $entry->{user}{email}, "entry $i user is the public profile, no email";
        }
    };

    subtest 'max_distance validation' => sub {
        for my $bad ('0', '-1', '2000001', 'abc', '', '1e400') {
            for my $route ('journeys/nearby', 'nearby') {
                my ($status, $body) = $srv->request(GET => "/journeys/$journey{ada}/$route?max_distance=$bad",
                    token => $token);
                is $status, 422, "$route max_distance '$bad' answers 422";
                is_deeply $body->{detail}[0]{loc}, ['query', 'max_distance'], "$route max_distance '$bad': loc names it";
            }
        }
        my ($nul_status, $nul) = $srv->request(GET => "/journeys/$journey{ada}/nearby?max_distance=5%00x", token => $token);
        is $nul_status, 422, 'max_distance with an encoded NUL answers 422';
        is_deeply $nul->{detail}[0]{loc}, ['query', 'max_distance'], 'max_distance with an encoded NUL: loc names it';
        my ($max) = $srv->request(GET => "/journeys/$journey{ada}/journeys/nearby?max_distance=2000000", token => $token);
        is $max, 200, 'max_distance 2000000 is accepted';
        my ($fraction) = $srv->request(GET => "/journeys/$journey{ada}/journeys/nearby?max_distance=1500.5", token => $token);
        is $fraction, 200, 'a fractional max_distance is accepted';
    };

    subtest 'antimeridian' => sub {
        my $east = $srv->new_rider(name => 'East');
        my $west = $srv->new_rider(name => 'West');
        my $east_journey = $srv->create_journey($east, name => 'Fiji east')->{_id};
        my $west_journey = $srv->create_journey($west, name => 'Fiji west')->{_id};
        $srv->add_marker($east, $east_journey, 179.9, 0);
        $srv->add_marker($west, $west_journey, -179.9, 0);
        my $expected = distance_m(179.9, 0, -179.9, 0);

        my (undef, $near) = $srv->request(GET => "/journeys/$east_journey/journeys/nearby?max_distance=30000",
            token => $east->{access});
        is_deeply $near, [$west_journey], '179.9 and -179.9 are within 30 km';
        my (undef, $far) = $srv->request(GET => "/journeys/$east_journey/journeys/nearby?max_distance=10000",
            token => $east->{access});
        is_deeply $far, [], '179.9 and -179.9 are not within 10 km';
        my (undef, $rich) = $srv->request(GET => "/journeys/$west_journey/nearby?max_distance=30000",
            token => $west->{access});
        ok abs(($rich->[0]{distance_m} // -1) - $expected) < 1,
            sprintf('distance across the antimeridian %s is within 1 m of %.1f', $rich->[0]{distance_m} // 'undef', $expected);
    };

    subtest 'near the north pole' => sub {
        my $north = $srv->new_rider(name => 'North');
        my $south = $srv->new_rider(name => 'Across');
        my $here = $srv->create_journey($north, name => 'Pole one')->{_id};
        my $there = $srv->create_journey($south, name => 'Pole two')->{_id};
        $srv->add_marker($north, $here, 0, 89.95);
        $srv->add_marker($south, $there, 180, 89.95);
        my $expected = distance_m(0, 89.95, 180, 89.95);

        my (undef, $near) = $srv->request(GET => "/journeys/$here/nearby?max_distance=15000", token => $north->{access});
        is scalar(@{ $near // [] }), 1, 'points 0.1 degree apart across the pole are within 15 km';
        ok abs(($near->[0]{distance_m} // -1) - $expected) < 1,
            sprintf('distance across the pole %s is within 1 m of %.1f', $near->[0]{distance_m} // 'undef', $expected);
        my (undef, $far) = $srv->request(GET => "/journeys/$here/nearby?max_distance=8000", token => $north->{access});
        is_deeply $far, [], 'they are not within 8 km';
    };
});

done_testing;
