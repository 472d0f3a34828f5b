#!/usr/bin/perl
# Seeds a running Kairos for `make bench` through its HTTP API: one rider per
# GPX route in the given directory, one journey each, and about 200 markers
# sampled evenly along the route. Prints the journey id with the most nearby
# journeys (within 500 km) and its owner's access token, one per line, so the
# benchmark reads a journey whose nearby list is not empty.
#
# Usage: seed.pl BASE_URL ROUTE_DIR
use strict;
use warnings;

use FindBin qw($Bin);
use lib "$Bin/../../t/lib";

use Gpx qw(read_points sample_points);
use HTTP::Tiny;
use JSON::PP;

my $MARKERS_PER_ROUTE = 200;

my ($base, $route_dir) = @ARGV;
die "usage: $0 BASE_URL ROUTE_DIR\n" unless defined $route_dir;
my @routes = sort glob "$route_dir/*.gpx";
die "seed: no .gpx files in $route_dir\n" unless @routes;

my $http = HTTP::Tiny->new(timeout => 15, keep_alive => 0);
my $json = JSON::PP->new->canonical;

# Sends one request to /api/v1$path and returns the decoded body; dies unless the status is $expected.
sub call {
    my ($method, $path, $expected, %opt) = @_;
    my %headers;
    $headers{Authorization} = "Bearer $opt{token}" if $opt{token};
    my %args = (headers => \%headers);
    if ($opt{json}) {
        $headers{'Content-Type'} = 'application/json';
        $args{content} = $json->encode($opt{json});
    } elsif ($opt{form}) {
        $headers{'Content-Type'} = 'application/x-www-form-urlencoded';
        $args{content} = $http->www_form_urlencode($opt{form});
    }
    my $res = $http->request($method, "$base/api/v1$path", \%args);
    die "seed: $method $path returned $res->{status}, expected $expected: $res->{content}\n"
        unless $res->{status} == $expected;
    return $json->decode($res->{content});
}

my @journeys;
for my $i (0 .. $#routes) {
    my $route = $routes[$i];
    my ($name) = $route =~ m{([^/]+)\.gpx\z};
    my $email = "rider$i\@bench.example.com";
    my $password = "bench-password-$i";
    call(POST => '/users/register', 201, json => { email => $email, name => "Rider $i", password => $password });
    my $tokens = call(POST => '/auth/token', 200, form => [ username => $email, password => $password ]);
    my $token = $tokens->{access_token};
    my $journey = call(POST => '/journeys/', 201, token => $token, json => { name => $name });

    my @points = sample_points($MARKERS_PER_ROUTE, read_points($route));
    for my $point (@points) {
        call(POST => "/journeys/$journey->{_id}/markers", 201, token => $token, json => {
            name        => $name,
            marker_type => 'past',
            coordinates => { type => 'Point', coordinates => $point },
            timestamp   => '2024-06-01',
        });
    }
    push @journeys, { id => $journey->{_id}, token => $token, markers => scalar @points };
    printf STDERR "seed: %s: journey %s, %d markers\n", $name, $journey->{_id}, scalar @points;
}

my ($busiest, $most) = ($journeys[0], -1);
for my $journey (@journeys) {
    my $nearby = call(GET => "/journeys/$journey->{id}/nearby?max_distance=500000", 200, token => $journey->{token});
    ($busiest, $most) = ($journey, scalar @$nearby) if @$nearby > $most;
}
printf STDERR "seed: benchmarking journey %s (%d nearby journeys)\n", $busiest->{id}, $most;
print "$busiest->{id}\n$busiest->{token}\n";
