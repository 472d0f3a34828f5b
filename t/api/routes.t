# Nearby journeys on real race routes: one rider per route with markers
# sampled from its GPX file, and a second Tour Divide rider riding a few
# hundred metres beside the first.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use File::Basename qw(basename);
use JSON::PP ();
use Test::More;
use Gpx qw(read_points sample_points);
use KairosTest qw(for_each_backend distance_m);

my $ROUTE_DIR = "$FindBin::Bin/../../../shared/data/routes";
my $SAMPLES = 40;
my $OFFSET_DEGREES = 0.003;    # latitude offset of the second Tour Divide rider, about 334 m

my @files = sort glob "$ROUTE_DIR/*.gpx";
plan skip_all => "no GPX routes in $ROUTE_DIR" unless @files;

my %points;    # race => [[lng, lat], ...]
for my $file (@files) {
    my ($race) = basename($file, '.gpx') =~ /\A\d{4}_(.+)\z/;
    $points{$race} = [sample_points($SAMPLES, read_points($file))];
}
for my $race (qw(tour-divide atlas-mountain-race silk-road-mountain-race transpyrenees-transiberica pedals-de-foc)) {
    die "route $race is missing from $ROUTE_DIR\n" unless $points{$race};
}
$points{'tour-divide-beside'} = [map { [$_->[0], $_->[1] + $OFFSET_DEGREES] } @{ $points{'tour-divide'} }];

# Smallest distance between any point of one rider and any point of another.
sub min_distance {
    my ($a, $b) = @_;
    my $min;
    for my $p (@$a) {
        for my $q (@$b) {
            my $d = distance_m(@$p, @$q);
            $min = $d if !defined $min || $d < $min;
        }
    }
    return $min;
}

# Nearby answers within 2000 km per backend ("spatialite", "mongodb"), race by
# race, to check that both backends give the same answer on the same data.
my %answers;

for_each_backend(sub {
    my ($srv) = @_;
    my (undef, $health) = $srv->request(GET => '/health');
    my $backend = $health->{storage} // 'unknown';
    my (%rider, %journey);
    for my $race (sort keys %points) {
        $rider{$race} = $srv->new_rider(name => "Rider $race");
        $journey{$race} = $srv->create_journey($rider{$race}, name => $race, active => JSON::PP::true)->{_id};
        for my $point (@{ $points{$race} }) {
            $srv->add_marker($rider{$race}, $journey{$race}, @$point, name => $race);
        }
    }
    my %race_of = reverse %journey;
    my $token = $rider{'tour-divide'}{access};

    my $nearby_ids = sub {
        my ($race, $max) = @_;
        my ($status, $ids) = $srv->request(GET => "/journeys/$journey{$race}/journeys/nearby?max_distance=$max",
            token => $token);
        return $status == 200 ? [map { $race_of{$_} // $_ } @$ids] : ["status $status"];
    };

    subtest 'markers are stored' => sub {
        for my $race (sort keys %points) {
            my (undef, $markers) = $srv->request(GET => "/journeys/$journey{$race}/markers", token => $token);
            is scalar(@{ $markers // [] }), scalar(@{ $points{$race} }), "$race has all its markers";
        }
    };

    subtest 'riders on the same race' => sub {
        is_deeply $nearby_ids->('tour-divide', 1000), ['tour-divide-beside'], 'Tour Divide rider finds the rider beside';
        is_deeply $nearby_ids->('tour-divide-beside', 1000), ['tour-divide'], 'and the rider beside finds the first';
        my (undef, $rich) = $srv->request(GET => "/journeys/$journey{'tour-divide'}/nearby?max_distance=1000", token => $token);
        my $expected = min_distance($points{'tour-divide'}, $points{'tour-divide-beside'});
        ok abs(($rich->[0]{distance_m} // -1) - $expected) < 1,
            sprintf('distance %s is within 1 m of %.1f', $rich->[0]{distance_m} // 'undef', $expected);
        is $rich->[0]{user}{_id}, $rider{'tour-divide-beside'}{id}, 'the rider beside is named';
    };

    subtest 'Pyrenees races at 500 km' => sub {
        my $transpyrenees = $nearby_ids->('transpyrenees-transiberica', 500_000);
        my $pedals = $nearby_ids->('pedals-de-foc', 500_000);
        ok((grep { $_ eq 'pedals-de-foc' } @$transpyrenees), 'Transpyrenees rider finds the Pedals de Foc rider');
        ok((grep { $_ eq 'transpyrenees-transiberica' } @$pedals), 'Pedals de Foc rider finds the Transpyrenees rider');
    };

    subtest 'other continents stay apart' => sub {
        my $found = $nearby_ids->('tour-divide', 2_000_000);
        ok !(grep { $_ eq 'atlas-mountain-race' } @$found), 'Tour Divide rider does not find the Atlas rider';
        ok !(grep { $_ eq 'silk-road-mountain-race' } @$found), 'Tour Divide rider does not find the Silk Road rider';
    };

    subtest 'every pair agrees with the sphere model' => sub {
        for my $race (sort keys %points) {
            my %expected;
            for my $other (keys %points) {
                next if $other eq $race;
                my $d = min_distance($points{$race}, $points{$other});
                $expected{$other} = $d if $d <= 2_000_000;
            }
            my @order = sort { $expected{$a} <=> $expected{$b} } keys %expected;
            my (undef, $rich) = $srv->request(GET => "/journeys/$journey{$race}/nearby?max_distance=2000000",
                token => $token);
            is_deeply [map { $race_of{ $_->{journey}{_id} } // '?' } @{ $rich // [] }], \@order,
                "$race: neighbours within 2000 km, nearest first";
            $answers{$backend}{$race} = [map { [$race_of{ $_->{journey}{_id} } // '?', $_->{distance_m}] } @{ $rich // [] }];
            for my $entry (@{ $rich // [] }) {
                my $other = $race_of{ $entry->{journey}{_id} } // next;
                next unless defined $expected{$other};
                ok abs($entry->{distance_m} - $expected{$other}) < 1,
                    sprintf('%s to %s: %.1f m within 1 m of %.1f', $race, $other, $entry->{distance_m}, $expected{$other});
            }
        }
    };
});

subtest 'both backends give the same nearby answers' => sub {
    plan skip_all => 'MongoDB run skipped: KAIROS_TEST_MONGO_URI is not set'
        unless $ENV{KAIROS_TEST_MONGO_URI};
    for my $race (sort keys %points) {
        my $lite = $answers{spatialite}{$race} // [];
        my $mongo = $answers{mongodb}{$race} // [];
        is_deeply [map { $_->[0] } @$mongo], [map { $_->[0] } @$lite], "$race: same neighbours in the same order";
        for my $i (0 .. $#$lite) {
            next unless $mongo->[$i];
            ok abs($mongo->[$i][1] - $lite->[$i][1]) < 1,
                sprintf('%s to %s: %.1f m and %.1f m agree within 1 m', $race, $lite->[$i][0], $lite->[$i][1],
                    $mongo->[$i][1]);
        }
    }
};

done_testing;
