package OpenAPISchema;

# Validates decoded JSON data against the schemas of an OpenAPI 3.1 document,
# for the tests in t/api. Core modules only. It supports the subset of JSON
# Schema that docs/openapi.json uses: type (a name or a list of names, "null"
# among them), properties, required, additionalProperties (a boolean or a
# schema), items, minItems, maxItems, enum, const, minLength, maxLength,
# pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum, anyOf, oneOf,
# allOf, $ref to "#/..." within the document, and the formats date, date-time
# and email. Any other keyword is an error, so that a schema the validator
# cannot check never passes unchecked.
#
#   my $api = OpenAPISchema->new($document);
#   my @errors = $api->validate_response('POST', '/api/v1/journeys/', 201, $content_type, $data);
#   my @errors = $api->validate($api->schema('User'), $data);
#
# Each error is a sentence that names the place in the data ("$.coordinates")
# and what failed there.

use strict;
use warnings;

use B ();
use Carp qw(croak);
use Scalar::Util qw(blessed looks_like_number);

# Keywords that carry no constraint.
my %ANNOTATION = map { $_ => 1 } qw(title description default examples example deprecated readOnly writeOnly);

# Keywords that validate() checks.
my %SUPPORTED = map { $_ => 1 } qw($ref type properties required additionalProperties items minItems maxItems enum
    const minLength maxLength pattern minimum maximum exclusiveMinimum exclusiveMaximum format anyOf oneOf allOf);

sub new {
    my ($class, $document) = @_;
    croak 'the document must be a decoded JSON object' unless ref $document eq 'HASH';
    return bless { doc => $document }, $class;
}

sub document { $_[0]{doc} }

# The schema named $name under components.schemas; croaks when there is none.
sub schema {
    my ($self, $name) = @_;
    my $schema = $self->{doc}{components}{schemas}{$name};
    croak "no schema $name in components.schemas" unless $schema;
    return $schema;
}

# The operation object of $method $path (a path template of the document), or undef.
sub operation {
    my ($self, $method, $path) = @_;
    return $self->{doc}{paths}{$path}{ lc $method };
}

# Validates a response: its status must be documented for the operation, its
# body must match the schema documented for that status and content type, and
# a status documented without content must come without a body. Returns the
# list of errors; empty when the response conforms.
sub validate_response {
    my ($self, $method, $path, $status, $content_type, $data, $raw) = @_;
    my $operation = $self->operation($method, $path);
    return ("$method $path is not an operation of the document") unless $operation;
    my $response = $operation->{responses}{$status};
    return ("$method $path does not document status $status") unless $response;
    $response = $self->resolve($response);

    my $content = $response->{content};
    if (!$content || !%$content) {
        return () if !defined $raw || $raw eq '';
        return ("$method $path $status documents no body but the response has one");
    }

    my ($media) = split /;/, $content_type // '';
    $media = lc($media // '');
    $media =~ s/\s+//g;
    my $entry = $content->{$media};
    return ("$method $path $status documents no content of type '$media'") unless $entry;
    return () unless $entry->{schema};
    return $self->validate($entry->{schema}, $data);
}

# Follows $ref until the object is not a reference.
sub resolve {
    my ($self, $node) = @_;
    my %seen;
    while (ref $node eq 'HASH' && exists $node->{'$ref'}) {
        my $ref = $node->{'$ref'};
        croak "\$ref cycle at $ref" if $seen{$ref}++;
        $node = $self->lookup($ref);
    }
    return $node;
}

sub lookup {
    my ($self, $ref) = @_;
    croak "only references within the document are supported: $ref" unless $ref =~ m{\A#/};
    my $node = $self->{doc};
    for my $part (split m{/}, substr $ref, 2) {
        $part =~ s/~1/\//g;
        $part =~ s/~0/~/g;
        croak "\$ref $ref does not resolve" unless ref $node eq 'HASH' && exists $node->{$part};
        $node = $node->{$part};
    }
    return $node;
}

# Returns the list of errors of $data against $schema; empty when it conforms.
sub validate {
    my ($self, $schema, $data, $where) = @_;
    $where //= '$';
    if (is_bool($schema)) {
        return () if $schema;    # the schema true allows any value
        return ("$where: no value is allowed here (additional property)");
    }
    croak "schema at $where is not an object" unless ref $schema eq 'HASH';

    my @errors;
    for my $keyword (sort keys %$schema) {
        croak "OpenAPISchema does not support the keyword '$keyword' (at $where)"
            unless $ANNOTATION{$keyword} || $SUPPORTED{$keyword};
    }

    if (exists $schema->{'$ref'}) {
        push @errors, $self->validate($self->lookup($schema->{'$ref'}), $data, $where);
    }
    if (exists $schema->{type}) {
        my @types = ref $schema->{type} eq 'ARRAY' ? @{ $schema->{type} } : ($schema->{type});
        my $type = json_type($data);
        my $matches = grep { $_ eq $type || ($_ eq 'number' && $type eq 'integer') } @types;
        return ("$where: expected " . join(' or ', @types) . ", got $type") unless $matches;
    }
    for my $keyword (qw(enum const minLength maxLength pattern minimum maximum exclusiveMinimum exclusiveMaximum
        minItems maxItems items format anyOf oneOf allOf)) {
        next unless exists $schema->{$keyword};
        my $check = $self->can("check_$keyword");
        push @errors, $self->$check($schema, $data, $where);
    }
    push @errors, $self->check_object($schema, $data, $where) if ref $data eq 'HASH';
    return @errors;
}

sub check_enum {
    my ($self, $schema, $data, $where) = @_;
    return () if grep { json_equal($_, $data) } @{ $schema->{enum} };
    return ("$where: " . describe($data) . ' is not one of ' . join(', ', map { describe($_) } @{ $schema->{enum} }));
}

sub check_const {
    my ($self, $schema, $data, $where) = @_;
    return () if json_equal($schema->{const}, $data);
    return ("$where: " . describe($data) . ' is not ' . describe($schema->{const}));
}

sub check_minLength {
    my ($self, $schema, $data, $where) = @_;
    return () unless json_type($data) eq 'string' && length($data) < $schema->{minLength};
    return ("$where: shorter than $schema->{minLength} characters");
}

sub check_maxLength {
    my ($self, $schema, $data, $where) = @_;
    return () unless json_type($data) eq 'string' && length($data) > $schema->{maxLength};
    return ("$where: longer than $schema->{maxLength} characters");
}

sub check_pattern {
    my ($self, $schema, $data, $where) = @_;
    return () unless json_type($data) eq 'string';
    return () if $data =~ /$schema->{pattern}/;
    return ("$where: " . describe($data) . " does not match $schema->{pattern}");
}

sub numeric_bound {
    my ($data, $where, $keyword, $bound, $fails) = @_;
    my $type = json_type($data);
    return () unless $type eq 'number' || $type eq 'integer';
    return () unless $fails->($data, $bound);
    return ("$where: $data breaks $keyword $bound");
}

sub check_minimum {
    my ($self, $schema, $data, $where) = @_;
    return numeric_bound($data, $where, 'minimum', $schema->{minimum}, sub { $_[0] < $_[1] });
}

sub check_maximum {
    my ($self, $schema, $data, $where) = @_;
    return numeric_bound($data, $where, 'maximum', $schema->{maximum}, sub { $_[0] > $_[1] });
}

sub check_exclusiveMinimum {
    my ($self, $schema, $data, $where) = @_;
    return numeric_bound($data, $where, 'exclusiveMinimum', $schema->{exclusiveMinimum}, sub { $_[0] <= $_[1] });
}

sub check_exclusiveMaximum {
    my ($self, $schema, $data, $where) = @_;
    return numeric_bound($data, $where, 'exclusiveMaximum', $schema->{exclusiveMaximum}, sub { $_[0] >= $_[1] });
}

sub check_minItems {
    my ($self, $schema, $data, $where) = @_;
    return () unless ref $data eq 'ARRAY' && @$data < $schema->{minItems};
    return ("$where: fewer than $schema->{minItems} items");
}

sub check_maxItems {
    my ($self, $schema, $data, $where) = @_;
    return () unless ref $data eq 'ARRAY' && @$data > $schema->{maxItems};
    return ("$where: more than $schema->{maxItems} items");
}

sub check_items {
    my ($self, $schema, $data, $where) = @_;
    return () unless ref $data eq 'ARRAY';
    return map { $self->validate($schema->{items}, $data->[$_], "$where\[$_\]") } 0 .. $#$data;
}

my %FORMAT = (
    'date'      => qr/\A\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\z/,
    'date-time' => qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)\z/,
    'email'     => qr/\A[^@\s]+@[^@\s]+\z/,
);

# Formats are assertions here: the document uses them for values the API promises.
sub check_format {
    my ($self, $schema, $data, $where) = @_;
    my $re = $FORMAT{ $schema->{format} };
    return () unless $re && json_type($data) eq 'string';
    return () if $data =~ $re;
    return ("$where: " . describe($data) . " is not a valid $schema->{format}");
}

sub check_anyOf {
    my ($self, $schema, $data, $where) = @_;
    for my $choice (@{ $schema->{anyOf} }) {
        return () unless $self->validate($choice, $data, $where);
    }
    return ("$where: matches none of the anyOf schemas");
}

sub check_oneOf {
    my ($self, $schema, $data, $where) = @_;
    my $matches = grep { !$self->validate($_, $data, $where) } @{ $schema->{oneOf} };
    return () if $matches == 1;
    return ("$where: matches $matches of the oneOf schemas instead of exactly one");
}

sub check_allOf {
    my ($self, $schema, $data, $where) = @_;
    return map { $self->validate($_, $data, $where) } @{ $schema->{allOf} };
}

sub check_object {
    my ($self, $schema, $data, $where) = @_;
    my @errors;
    my $properties = $schema->{properties} // {};
    for my $name (@{ $schema->{required} // [] }) {
        push @errors, "$where: the required property '$name' is missing" unless exists $data->{$name};
    }
    for my $name (sort keys %$data) {
        if (exists $properties->{$name}) {
            push @errors, $self->validate($properties->{$name}, $data->{$name}, "$where.$name");
        } elsif (exists $schema->{additionalProperties}) {
            push @errors, $self->validate($schema->{additionalProperties}, $data->{$name}, "$where.$name");
        }
    }
    return @errors;
}

sub is_bool {
    my ($value) = @_;
    return blessed($value) && ($value->isa('JSON::PP::Boolean') || $value->isa('Types::Serialiser::Boolean'));
}

# The JSON type of a value decoded by JSON::PP: a scalar that JSON::PP read
# as a number has a numeric value and no string value, which is also how
# JSON::PP itself tells numbers from strings when it encodes.
sub json_type {
    my ($value) = @_;
    return 'null' unless defined $value;
    return 'boolean' if is_bool($value);
    return 'object' if ref $value eq 'HASH';
    return 'array' if ref $value eq 'ARRAY';
    croak 'cannot validate a ' . ref($value) . ' reference' if ref $value;
    my $flags = B::svref_2object(\$value)->FLAGS;
    my $numeric = $flags & (B::SVp_IOK() | B::SVp_NOK());
    return 'string' unless $numeric && !($flags & B::SVp_POK());
    return 'integer' if $value == int($value) && $value !~ /[.eE]/;
    return 'number';
}

sub json_equal {
    my ($a, $b) = @_;
    my ($ta, $tb) = (json_type($a), json_type($b));
    $ta = 'number' if $ta eq 'integer';
    $tb = 'number' if $tb eq 'integer';
    return 0 unless $ta eq $tb;
    return 1 if $ta eq 'null';
    return (!!$a) == (!!$b) if $ta eq 'boolean';
    return $a == $b if $ta eq 'number';
    return $a eq $b if $ta eq 'string';
    if ($ta eq 'array') {
        return 0 unless @$a == @$b;
        return !grep { !json_equal($a->[$_], $b->[$_]) } 0 .. $#$a;
    }
    return 0 unless keys %$a == keys %$b;
    return !grep { !exists $b->{$_} || !json_equal($a->{$_}, $b->{$_}) } keys %$a;
}

sub describe {
    my ($value) = @_;
    my $type = json_type($value);
    return 'null' if $type eq 'null';
    return $value ? 'true' : 'false' if $type eq 'boolean';
    return "\"$value\"" if $type eq 'string';
    return $type if $type eq 'object' || $type eq 'array';
    return "$value";
}

1;
