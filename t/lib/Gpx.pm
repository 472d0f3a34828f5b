package Gpx;

# Reads the points of a GPX 1.1 file with regular expressions: enough for the
# route files the tests use (attributes lat and lon on <trkpt> or <rtept>),
# not a general XML parser.

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);

our @EXPORT_OK = qw(read_points sample_points);

# Returns the track points (<trkpt>) of $file, or its route points (<rtept>)
# when it has no track, in file order, as [longitude, latitude] pairs.
sub read_points {
    my ($file) = @_;
    open my $fh, '<:raw', $file or croak "cannot open $file: $!";
    local $/;
    my $text = <$fh>;
    close $fh;

    for my $element (qw(trkpt rtept)) {
        my @points;
        while ($text =~ /<$element\b([^>]*)>/g) {
            my $attributes = $1;
            my ($lat) = $attributes =~ /\blat\s*=\s*["']([-+0-9.eE]+)["']/;
            my ($lon) = $attributes =~ /\blon\s*=\s*["']([-+0-9.eE]+)["']/;
            croak "$file: <$element> without lat or lon" unless defined $lat && defined $lon;
            push @points, [$lon + 0, $lat + 0];
        }
        return @points if @points;
    }
    croak "$file: no <trkpt> or <rtept> points";
}

# Returns $count points spread evenly over @points, first and last included.
sub sample_points {
    my ($count, @points) = @_;
    return @points if @points <= $count;
    my @sample;
    for my $i (0 .. $count - 1) {
        push @sample, $points[ int($i * $#points / ($count - 1) + 0.5) ];
    }
    return @sample;
}

1;
